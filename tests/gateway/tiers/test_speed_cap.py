"""The speed cap, as the client sees it: tokens after the first never come faster than the cap.

The engine (time scale 50) produces tokens far faster than the cap, so the gateway's pacing
is all that spaces them. Lower bounds only: a busy machine makes streams slower, never faster.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.fixtures.stack import KEYS, gateway_stack
from tests.gateway.tiers.measure import quantile, streamed, whole

CAP = 25.0  # tokens/s: one token every 40 ms
FLOOR_S = 0.1
N = 12


def capped(tree: dict[str, Any]) -> None:
    eco = tree["tiers"]["economy"]
    eco.update(max_output_tokens_per_s=CAP, min_ttft_ms=FLOOR_S * 1000)
    eco["batch"] = {"policy": "continuous"}


async def test_a_capped_stream_is_spaced_by_the_cap_and_lasts_n_minus_one_intervals() -> None:
    async with gateway_stack(patch=capped) as stack:
        eco, fast = stack.client(KEYS["economy"]), stack.client(KEYS["fast"])
        capped_runs = await asyncio.gather(*(streamed(eco, max_tokens=N) for _ in range(4)))
        free_run = await streamed(fast, max_tokens=N)
        for r in capped_runs:
            assert len(r.content_at) == N and r.completion_tokens == N
            # each token leaves >= 1/cap after the one before; the first after the floor
            assert r.total >= FLOOR_S + (N - 1) / CAP
            assert r.content_at[-1] - r.ttft >= (N - 1) / CAP - 0.05  # a late first byte: slack
            gaps = [b - a for a, b in zip(r.content_at, r.content_at[1:], strict=False)]
            assert quantile(gaps, 0.5) >= 0.8 / CAP, gaps
        # the uncapped tier on the same engines is not paced: it streams faster than any capped one
        free_span = free_run.content_at[-1] - free_run.ttft
        assert free_span < min(r.content_at[-1] - r.ttft for r in capped_runs)


async def test_a_capped_whole_response_leaves_when_its_last_token_would_have() -> None:
    async with gateway_stack(patch=capped) as stack:
        r = await whole(stack.client(KEYS["economy"]), max_tokens=N)
        assert r.completion_tokens == N
        assert r.total >= FLOOR_S + (N - 1) / CAP
