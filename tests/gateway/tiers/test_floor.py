"""The TTFT floor, measured by the client: never beaten, and not paid for by the fast tier.

Times are wall-clock on the gateway (the simulator's time scale speeds up only the engine),
and the machine is shared: tests assert floors and orderings, never tight upper bounds.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.fixtures.stack import KEYS, gateway_stack
from tests.gateway.tiers.measure import quantile, streamed, whole

ECONOMY_FLOOR_S = 0.3  # the stack's economy tier: min_ttft_ms 300, window 200 ms / 4


async def test_every_economy_response_waits_for_its_floor_streamed_or_not() -> None:
    async with gateway_stack() as stack:
        eco = stack.client(KEYS["economy"])
        # alone (the window closes on time), then a burst (min_batch releases at once)
        alone = [await streamed(eco), await whole(eco)]
        burst = await asyncio.gather(
            *(streamed(eco, max_tokens=16) for _ in range(10)),
            *(whole(eco, max_tokens=16) for _ in range(10)),
        )
        for r in [*alone, *burst]:
            assert r.ttft >= ECONOMY_FLOOR_S, r.ttft
            assert r.headers["x-tokengate-tier"] == "economy"


async def test_a_raised_floor_holds_for_long_and_short_answers() -> None:
    def floor(tree: dict[str, Any]) -> None:
        tree["tiers"]["economy"]["min_ttft_ms"] = 700

    async with gateway_stack(patch=floor) as stack:
        eco = stack.client(KEYS["economy"])
        results = await asyncio.gather(
            streamed(eco, max_tokens=1), whole(eco, max_tokens=1), streamed(eco, max_tokens=64)
        )
        assert all(r.ttft >= 0.7 for r in results), [r.ttft for r in results]


async def test_fast_stays_fast_while_economy_floods_the_same_backends() -> None:
    """Economy (1 s floor) floods both backends; fast, sent into the flood, stays well under it.

    With ``dispatch_lead_ms`` the floor is spent queued (gated), not on a slot, and the
    priority queue puts fast first, so fast waits at most for an economy request's short stay
    on the engine. (Without the gate every general slot is held, idle, for the whole floor
    while the relay sits on finished output, and fast waits it out: p50 ~1.2 s here.)
    """

    def long_floor(tree: dict[str, Any]) -> None:
        tree["tiers"]["economy"]["min_ttft_ms"] = 1000
        tree["tiers"]["economy"]["dispatch_lead_ms"] = 250

    async with gateway_stack(patch=long_floor) as stack:
        eco, fast = stack.client(KEYS["economy"]), stack.client(KEYS["fast"])
        general = sum(b.general_limit for b in stack.gateway.backends.values())
        sched = stack.gateway.schedulers["llama-3.1-8b"]
        flood = [asyncio.ensure_future(streamed(eco, max_tokens=32)) for _ in range(3 * general)]
        await sched.wait_for(lambda: sched.waiting_by_tier().get("economy", 0) >= 2 * general)
        fast_results = await asyncio.gather(*(streamed(fast, max_tokens=8) for _ in range(12)))
        economy = await asyncio.gather(*flood)
        assert all(r.ttft >= 1.0 for r in economy)
        fast_ttft = sorted(r.ttft for r in fast_results)
        assert quantile(fast_ttft, 0.5) < 0.5, fast_ttft
