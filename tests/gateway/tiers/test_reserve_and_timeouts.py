"""Saturation: the reserve keeps internal work moving, and a tier's queue timeout is a 429.

Long generations (the engine at real time, thousands of tokens) hold every general slot for
the whole test; states are awaited through the scheduler (``wait_for`` re-checks after each
dispatch pass), never slept on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from tests.fixtures.stack import KEYS, MODEL, Stack, gateway_stack
from tests.gateway.tiers.measure import chat_args, streamed

LONG = 4000  # tokens: ~30 s on the engine at time scale 1, far longer than any test


async def _occupy(client: openai.AsyncOpenAI) -> None:
    """A long stream, read slowly to its end (the test cancels it)."""
    stream = await client.chat.completions.create(**chat_args(max_tokens=LONG), stream=True)
    async with stream:  # closed also when the test cancels it
        async for _ in stream:
            pass


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _saturate(stack: Stack, key: str, extra: int) -> list[asyncio.Task[Any]]:
    """Fill every general slot with long requests, plus ``extra`` that must queue."""
    general = sum(b.general_limit for b in stack.gateway.backends.values())
    client = stack.client(key, timeout=120)
    tasks = [asyncio.ensure_future(_occupy(client)) for _ in range(general + extra)]
    sched, backends = stack.gateway.schedulers[MODEL], stack.gateway.backends.values()
    await sched.wait_for(
        lambda: (
            all(b.general_inflight == b.general_limit for b in backends)
            and sched.waiting() >= extra
        )
    )
    return tasks


@pytest.fixture
async def real_time() -> AsyncIterator[Stack]:
    async with gateway_stack(time_scale=1.0) as stack:
        yield stack


async def test_internal_runs_on_the_reserve_while_general_work_queues(real_time: Stack) -> None:
    stack = real_time
    gw = stack.gateway
    sched = gw.schedulers[MODEL]
    blockers = await _saturate(stack, KEYS["fast"], extra=3)
    try:
        reserved = sum(b.reserved_slots for b in gw.backends.values())
        internal = stack.client(KEYS["internal"])
        # one long internal request per reserved slot holds the reserve...
        holders = [asyncio.ensure_future(_occupy(internal)) for _ in range(reserved)]
        await sched.wait_for(
            lambda: sum(b.reserved_inflight for b in gw.backends.values()) == reserved
        )
        state = gw.state_snapshot()
        assert all(
            b["reserved_inflight"] == b["reserved_slots"] and b["borrowed_inflight"] == 0
            for b in state["backends"].values()
        )
        assert state["schedulers"][MODEL]["waiting_by_tier"] == {"fast": 3}
        # ...and one more waits: it may not borrow a general slot while fast requests queue
        late = asyncio.ensure_future(streamed(internal, max_tokens=4))
        await sched.wait_for(lambda: sched.waiting_by_tier().get("internal") == 1)
        await _cancel(holders)
        done = await late  # a reserved slot came back: internal finished, fast still queued
        assert done.headers["x-tokengate-tier"] == "internal"
        assert sched.waiting_by_tier() == {"fast": 3}
        assert all(b.general_inflight == b.general_limit for b in gw.backends.values())

        # short internal requests keep completing, all on reserved slots, fast still queued
        results = await asyncio.gather(*(streamed(internal, max_tokens=4) for _ in range(6)))
        assert len(results) == 6 and sched.waiting_by_tier() == {"fast": 3}
    finally:
        await _cancel(blockers)


async def test_a_queue_timeout_is_a_429_with_an_honest_integer_retry_after() -> None:
    def tiny_timeout(tree: dict[str, Any]) -> None:
        eco = tree["tiers"]["economy"]
        eco.update(queue_timeout_ms=300, min_ttft_ms=0, batch={"policy": "continuous"})

    async with gateway_stack(time_scale=1.0, patch=tiny_timeout) as stack:
        blockers = await _saturate(stack, KEYS["fast"], extra=0)
        try:
            eco = stack.client(KEYS["economy"])
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(openai.RateLimitError) as caught:
                await eco.chat.completions.create(**chat_args())
            assert loop.time() - started >= 0.3
            err = caught.value
            assert err.status_code == 429 and err.code == "queue_timeout"
            assert err.body is not None and set(err.body) >= {"message", "type", "param", "code"}
            retry = err.response.headers["Retry-After"]
            assert retry.isdigit() and 1 <= int(retry) <= 60
            # nothing freed while it waited: no promise sooner than the wait it just had
            retry_ms = int(err.response.headers["retry-after-ms"])
            assert retry_ms >= 300 and retry_ms == int(retry) * 1000
            # the long requests it waited behind are untouched, and the queue is empty again
            assert all(
                b.general_inflight == b.general_limit for b in stack.gateway.backends.values()
            )
            assert stack.gateway.schedulers[MODEL].waiting() == 0
        finally:
            await _cancel(blockers)
