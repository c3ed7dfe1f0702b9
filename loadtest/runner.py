"""The async engine of a run: send on schedule (or as users free up), record, drain.

Open loop: every intended send time is fixed up front and the sender never waits for a
response before sending the next request, so a slow server shows up as latency measured from
the intended time rather than as fewer requests (no coordinated omission). Closed loop
(``concurrency``): each user sends its next request when its last one ended; latency then runs
from the actual send. Nothing is summarised here: records are kept and analysed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import resource
import time
from collections.abc import Iterator

import aiohttp

from loadtest.client import request_body, send_request
from loadtest.config import RunConfig
from loadtest.gateway_admin import fetch_gpus, fetch_usage
from loadtest.plan import open_loop_plan
from loadtest.profiles import ConcurrencyProfile, SweepProfile
from loadtest.progress import LiveStats
from loadtest.record import RequestRecord
from loadtest.result import RunResult, StepProfile
from loadtest.workload import RequestSpec, Workload

_perf = time.perf_counter


def make_session(config: RunConfig) -> aiohttp.ClientSession:
    """One session for the whole run: no connection limit (the profile is the limit), and
    connect and between-chunk timeouts instead of aiohttp's 300 s total."""
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300)
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=config.connect_timeout_s, sock_read=config.read_timeout_s
    )
    return aiohttp.ClientSession(connector=connector, timeout=timeout)


async def run_load(
    config: RunConfig,
    *,
    profile: StepProfile | None = None,
    live: LiveStats | None = None,
    session: aiohttp.ClientSession | None = None,
) -> RunResult:
    """Run ``config`` (or one ``profile`` in its place, e.g. a sweep step) and return the records.

    Pass ``live`` to watch progress, ``session`` to reuse connections across runs.
    """
    step = profile if profile is not None else config.profile
    if isinstance(step, SweepProfile):
        raise ValueError("a sweep is several runs: use loadtest.sweep.run_sweep")
    _raise_open_file_limit()
    live = live if live is not None else LiveStats()
    own_session = session is None
    session = session if session is not None else make_session(config)
    try:
        return await _run(config, step, live, session)
    finally:
        if own_session:
            await session.close()


async def _run(
    config: RunConfig, step: StepProfile, live: LiveStats, session: aiohttp.ClientSession
) -> RunResult:
    notes: list[str] = []
    gpus, gpus_source = config.gpus, "config" if config.gpus else None
    if gpus is None:
        gpus, note = await fetch_gpus(session, config)
        gpus_source = "gateway" if gpus else None
        if note:
            notes.append(note)
    sender = _Sender(config, session, live)
    workload = Workload(config)
    # Build everything before t=0 and keep the collector away from it during the run.
    plan = None if isinstance(step, ConcurrencyProfile) else open_loop_plan(config, step, workload)
    gc.collect()
    gc.freeze()
    try:
        started_at = time.time()
        sender.t0 = live.t0 = _perf()
        if plan is None:
            assert isinstance(step, ConcurrencyProfile)
            await sender.closed_loop(step.users, iter(workload))
        else:
            live.planned = len(plan.specs)
            await sender.open_loop(
                plan.times_s.tolist(), plan.specs, plan.warmup_count, step.max_concurrency
            )
        await sender.drain(config.drain_timeout_s)
        wall = _perf() - sender.t0
    finally:
        gc.unfreeze()
    usage, note = await fetch_usage(session, config, started_at, started_at + wall + 1.0)
    if note:
        notes.append(note)
    if usage is not None and config.warmup_s > 0:
        notes.append(
            "the gateway's usage and cost cover the whole run, warm-up included (it dates usage "
            "by completion, so warm-up requests cannot be told apart); per-1M figures are ratios "
            "and barely move"
        )
    records = sorted(sender.records, key=lambda r: r.index)
    return RunResult(config, step, records, started_at, wall, gpus, gpus_source, usage, notes)


class _Sender:
    """Per-run state shared by the request tasks: session, headers, records, counters."""

    def __init__(self, config: RunConfig, session: aiohttp.ClientSession, live: LiveStats) -> None:
        self.config = config
        self.session = session
        self.live = live
        chat = config.endpoint == "chat"
        self.url = config.api_base + ("/chat/completions" if chat else "/completions")
        self.chat = chat
        self.headers = [
            {"Authorization": f"Bearer {t.api_key}", "Content-Type": "application/json"}
            for t in config.tiers
        ]
        self.tier_names = [t.name for t in config.tiers]
        self.records: list[RequestRecord] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.t0 = 0.0

    async def open_loop(
        self, times: list[float], specs: list[RequestSpec], warmup_count: int, cap: int | None
    ) -> None:
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(cap) if cap else None
        t0, tasks = self.t0, self.tasks
        for i, (at, spec) in enumerate(zip(times, specs, strict=True)):
            # The schedule's own timing, not a synchronisation. uvloop's timers have 1 ms
            # resolution and may fire early: sleep again rather than send before time.
            while (delay := at - (_perf() - t0)) > 0:  # noqa: ASYNC110 - a clock, not an event
                await asyncio.sleep(delay)
            task = loop.create_task(self._one(spec, at, i < warmup_count, slots))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def closed_loop(self, users: int, specs: Iterator[RequestSpec]) -> None:
        cfg = self.config
        deadline = cfg.warmup_s + cfg.duration_s if cfg.duration_s is not None else None
        self.live.deadline_s = deadline
        budget = [cfg.requests]  # measured requests still to start, shared by the users

        async def user() -> None:
            while True:
                now = _perf() - self.t0
                if deadline is not None and now >= deadline:
                    return
                warm = now < cfg.warmup_s
                if not warm and budget[0] is not None:
                    if budget[0] <= 0:
                        return
                    budget[0] -= 1
                await self._one(next(specs), None, warm, None)

        await asyncio.gather(*(user() for _ in range(users)))

    async def drain(self, timeout_s: float | None) -> None:
        if not self.tasks:
            return
        _, pending = await asyncio.wait(set(self.tasks), timeout=timeout_s)
        for task in pending:
            task.cancel()  # each records itself as "unfinished"
        if pending:
            await asyncio.wait(pending)

    async def _one(
        self, spec: RequestSpec, intended: float | None, warm: bool, slots: asyncio.Semaphore | None
    ) -> None:
        cfg, live = self.config, self.live
        record = RequestRecord(
            index=spec.index,
            tier=self.tier_names[spec.tier],
            intended_s=0.0 if intended is None else intended,
            sent_s=0.0,
            end_s=0.0,
            requested_prompt_tokens=spec.prompt_tokens,
            requested_output_tokens=spec.output_tokens,
            warmup=warm,
        )
        body = request_body(
            model=cfg.model,
            prompt=spec.prompt,
            max_tokens=spec.output_tokens,
            chat=self.chat,
            stream=cfg.stream,
            ignore_eos=cfg.ignore_eos,
            min_tokens=cfg.min_tokens,
            extra=cfg.extra_body,
        )
        acquired = False
        try:
            if slots is not None:
                await slots.acquire()
                acquired = True
            live.sent += 1
            await send_request(
                self.session,
                self.url,
                self.headers[spec.tier],
                body,
                record,
                t0=self.t0,
                stream=cfg.stream,
                closed_loop=intended is None,
            )
        except asyncio.CancelledError:  # cancelled while waiting for a slot: never sent
            record.sent_s = record.end_s = _perf() - self.t0
            record.error_kind, record.error_message = "unfinished", "never got a concurrency slot"
            live.sent += 1
        finally:
            if acquired:
                assert slots is not None
                slots.release()
        self.records.append(record)
        live.done += 1
        if record.error_kind is not None:
            live.errors += 1
        elif record.first_token_s is not None:
            live.recent_ttft_ms.append((record.first_token_s - record.intended_s) * 1000.0)


def _raise_open_file_limit() -> None:
    """Thousands of concurrent streams need thousands of sockets: lift the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
