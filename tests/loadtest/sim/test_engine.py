"""The continuous-batching state machine: admission, chunked prefill, KV blocks, preemption."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadtest.sim.engine import Engine, EngineConfig, SeqStatus, StepResult
from loadtest.sim.presets import get_preset

H100 = get_preset("h100-llama3.1-8b")


def engine(**changes: int | float) -> Engine:
    return Engine(replace(H100.engine, jitter=0.0, **changes), H100.step_model)


def drain(e: Engine, now: float = 0.0, limit: int = 100_000) -> list[StepResult]:
    out = []
    for _ in range(limit):
        r = e.step(now)
        if r is None:
            return out
        out.append(r)
        now = r.end
    raise AssertionError("engine did not drain")


def test_every_running_sequence_gets_one_token_per_step() -> None:
    e = engine()
    seqs = [e.add(f"s{i}", 100, 5, 0.0) for i in range(3)]
    results = drain(e)
    assert len(results) == 5
    assert all(len(r.emitted) == 3 for r in results)
    assert all(s.generated == 5 and s.status is SeqStatus.FINISHED for s in seqs)
    assert results[-1].finished == tuple(seqs)
    assert e.free_blocks == e.config.num_kv_blocks


def test_max_num_seqs_caps_the_batch_and_the_rest_waits() -> None:
    e = engine(max_num_seqs=4)
    for i in range(10):
        e.add(f"s{i}", 10, 3, 0.0)
    e.step(0.0)
    assert (e.num_running, e.num_waiting) == (4, 6)


def test_a_long_prompt_is_chunked_and_blocks_the_queue_behind_it() -> None:
    e = engine(max_num_batched_tokens=1000)
    long = e.add("long", 2500, 2, 0.0)
    short = e.add("short", 10, 2, 0.0)
    r1, r2 = e.step(0.0), e.step(1.0)
    assert r1 is not None and r2 is not None
    assert r1.emitted == () and r1.batch.prefill == ((1000, 0),)  # the whole budget
    assert r2.batch.prefill == ((1000, 1000),)
    assert short.status is SeqStatus.WAITING  # head-of-line blocked two steps
    r3 = e.step(2.0)
    assert r3 is not None
    assert r3.batch.prefill == ((500, 2000), (10, 0))
    assert r3.emitted == (long, short)


def test_a_long_prefill_stretches_the_step_of_every_decoder() -> None:
    e = engine()
    e.add("decoder", 100, 50, 0.0)
    baseline = drain_steps(e, 3)
    e.add("big", 8000, 1, 0.0)
    with_prefill = e.step(0.0)
    assert with_prefill is not None
    assert with_prefill.batch.n_decode == 1
    assert with_prefill.duration > 10 * baseline  # the decoder's next token waits for it


def drain_steps(e: Engine, n: int) -> float:
    last = 0.0
    for _ in range(n):
        r = e.step(0.0)
        assert r is not None
        last = r.duration
    return last


def test_a_request_whose_blocks_do_not_fit_waits_and_nobody_skips_it() -> None:
    e = engine(num_kv_blocks=20, block_size=16)  # 320 tokens of KV
    e.add("a", 200, 10, 0.0)  # 13 blocks
    e.add("b", 150, 1, 0.0)  # 10 blocks: does not fit next to a
    e.add("c", 10, 1, 0.0)  # 1 block: would fit, but FIFO does not skip
    e.step(0.0)
    assert e.num_running == 1 and e.num_waiting == 2
    drain(e)
    assert e.counters.finished == 3


def test_preemption_when_running_sequences_outgrow_the_cache() -> None:
    e = engine(num_kv_blocks=10, block_size=16)  # 160 tokens
    a = e.add("a", 60, 40, 0.0)  # needs 99 tokens of KV at its end
    b = e.add("b", 60, 40, 0.0)
    drain(e)
    assert e.counters.preemptions >= 1
    assert b.preemptions >= 1  # the newest yields first
    assert (a.generated, b.generated) == (40, 40)
    assert e.free_blocks == 10


def test_abort_frees_blocks_wherever_the_sequence_is() -> None:
    e = engine(max_num_seqs=1)
    e.add("run", 100, 50, 0.0)
    e.add("wait", 100, 50, 0.0)
    e.step(0.0)
    assert e.kv_cache_usage > 0
    assert e.abort("wait") and e.abort("run")
    assert not e.abort("run")
    assert (e.num_running, e.num_waiting, e.kv_cache_usage) == (0, 0, 0.0)
    assert e.counters.aborted == 2
    assert not e.has_work


def test_requests_longer_than_the_model_or_the_cache_are_refused() -> None:
    e = engine(num_kv_blocks=10, block_size=16)
    with pytest.raises(ValueError, match="KV cache"):
        e.add("x", 150, 20, 0.0)
    with pytest.raises(ValueError, match="exceed"):
        engine().add("y", 131000, 1000, 0.0)


def test_jitter_is_seeded_and_small() -> None:
    def durations(seed: int) -> list[float]:
        e = Engine(H100.engine, H100.step_model, seed=seed)
        e.add("s", 100, 50, 0.0)
        return [r.duration for r in drain(e)]

    assert durations(1) == durations(1)
    assert durations(1) != durations(2)
    d = durations(3)[5:]
    assert max(d) / min(d) < 1.07  # ± 3 %


def test_zero_delay_steps_take_no_time() -> None:
    z = get_preset("zero-delay")
    e = Engine(z.engine, z.step_model)
    e.add("s", 1000, 20, 0.0)
    results = drain(e)
    assert len(results) == 20 and all(r.duration == 0.0 for r in results)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 300), st.integers(1, 40), st.sampled_from([False, False, True])),
        min_size=1,
        max_size=25,
    ),
    st.integers(4, 40),
)
def test_every_sequence_gets_exactly_its_tokens_and_blocks_return(
    requests: list[tuple[int, int, bool]], blocks: int
) -> None:
    cfg = EngineConfig(max_num_seqs=8, max_num_batched_tokens=128, num_kv_blocks=blocks, jitter=0)
    e = Engine(cfg, H100.step_model)
    seqs, aborted = [], []
    rng = random.Random(0)
    for i, (prompt, out, abort) in enumerate(requests):
        if prompt + out > cfg.kv_tokens:
            continue
        seqs.append(e.add(f"s{i}", prompt, out, 0.0))
        if abort:
            aborted.append(f"s{i}")
    now = 0.0
    while e.has_work:
        if aborted and rng.random() < 0.3:
            e.abort(aborted.pop())
        r = e.step(now)
        if r is None:
            break
        assert len(r.batch.prefill) + r.batch.n_decode <= cfg.max_num_seqs
        assert r.batch.tokens <= cfg.max_num_batched_tokens
        assert 0 <= e.free_blocks <= blocks
        now = r.end
    for s in seqs:
        assert s.status in (SeqStatus.FINISHED, SeqStatus.ABORTED)
        if s.status is SeqStatus.FINISHED:
            assert s.generated == s.max_tokens
    assert e.free_blocks == blocks
