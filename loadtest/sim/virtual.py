"""Run an engine against a workload in virtual time: no sleeping, a simulated minute in a blink.

A discrete-event loop: requests reach the engine ``frontend_s`` after they arrive, steps follow
each other back to back while there is work, and the clock jumps over idle gaps. Used by the
calibration tests and to sanity-check presets before a real-time run.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from loadtest.sim.engine import Engine, Seq


@dataclass(frozen=True, slots=True)
class Arrival:
    at: float
    prompt_tokens: int
    max_tokens: int


@dataclass(frozen=True, slots=True)
class Timing:
    """One finished request, seen from the client (times include the front end)."""

    arrival: float
    first_token: float
    finish: float
    output_tokens: int

    @property
    def ttft(self) -> float:
        return self.first_token - self.arrival


@dataclass(frozen=True, slots=True)
class Summary:
    requests: int
    ttft_p50: float
    ttft_mean: float
    itl_mean: float  # mean gap between tokens, over all gaps of all requests
    request_rate: float  # completions per second over the measured window
    output_tokens_per_s: float


def poisson_arrivals(
    rate: float, duration: float, prompt_tokens: int, max_tokens: int, seed: int = 0
) -> list[Arrival]:
    rng = random.Random(seed)
    out: list[Arrival] = []
    t = rng.expovariate(rate)
    while t < duration:
        out.append(Arrival(t, prompt_tokens, max_tokens))
        t += rng.expovariate(rate)
    return out


def run_open_loop(engine: Engine, arrivals: Sequence[Arrival], frontend_s: float) -> list[Timing]:
    """Feed ``arrivals`` (sorted by time) and run until every request has finished."""
    now = 0.0
    i = 0
    started: list[tuple[float, Seq]] = []
    while i < len(arrivals) or engine.has_work:
        while i < len(arrivals) and arrivals[i].at + frontend_s <= now:
            a = arrivals[i]
            started.append((a.at, engine.add(f"r{i}", a.prompt_tokens, a.max_tokens, a.at)))
            i += 1
        if not engine.has_work:
            now = arrivals[i].at + frontend_s
            continue
        result = engine.step(now)
        if result is None:
            break
        now = result.end
    return [_timing(at, seq) for at, seq in started]


def run_closed_loop(
    engine: Engine, concurrency: int, prompt_tokens: int, max_tokens: int, n_requests: int
) -> list[Timing]:
    """Keep ``concurrency`` requests outstanding: each finish sends the next one at once."""
    now = 0.0
    sent = 0
    started: list[tuple[float, Seq]] = []
    for _ in range(min(concurrency, n_requests)):
        started.append((now, engine.add(f"r{sent}", prompt_tokens, max_tokens, now)))
        sent += 1
    while engine.has_work:
        result = engine.step(now)
        if result is None:
            break
        now = result.end
        for _ in result.finished:
            if sent < n_requests:
                started.append((now, engine.add(f"r{sent}", prompt_tokens, max_tokens, now)))
                sent += 1
    return [_timing(at, seq) for at, seq in started]


def summarize(timings: Sequence[Timing], window: tuple[float, float] | None = None) -> Summary:
    """Latency over requests that arrived in ``window``, throughput over completions in it."""
    lo, hi = window or (min(t.arrival for t in timings), max(t.finish for t in timings))
    arrived = [t for t in timings if lo <= t.arrival < hi]
    done = [t for t in timings if lo <= t.finish < hi]
    ttfts = [t.ttft for t in arrived]
    gaps = sum(t.finish - t.first_token for t in arrived)
    n_gaps = sum(t.output_tokens - 1 for t in arrived)
    span = hi - lo
    return Summary(
        requests=len(arrived),
        ttft_p50=statistics.median(ttfts),
        ttft_mean=statistics.fmean(ttfts),
        itl_mean=gaps / n_gaps if n_gaps else 0.0,
        request_rate=len(done) / span,
        output_tokens_per_s=sum(t.output_tokens for t in done) / span,
    )


def saturation_rate(
    engine: Engine, prompt_tokens: int, max_tokens: int, n_requests: int = 4000
) -> float:
    """Maximum sustainable request rate: completions/s under a backlog that never drains.

    Closed loop with twice ``max_num_seqs`` requests outstanding, so the waiting queue is never
    empty and the batch stays full; the rate is measured between the 25th and 75th percentile of
    completion times, away from the ramp-up and the final drain.
    """
    timings = run_closed_loop(
        engine, 2 * engine.config.max_num_seqs, prompt_tokens, max_tokens, n_requests
    )
    finishes = sorted(t.finish for t in timings)
    lo, hi = finishes[len(finishes) // 4], finishes[3 * len(finishes) // 4]
    return sum(1 for f in finishes if lo <= f < hi) / (hi - lo)


def _timing(arrival: float, seq: Seq) -> Timing:
    if seq.first_token_at is None or seq.finished_at is None:
        raise RuntimeError(f"{seq.id} did not finish")
    return Timing(arrival, seq.first_token_at, seq.finished_at, seq.generated)
