"""Redis dies mid-load and comes back: the gateway keeps serving, spools usage, replays it, and
the admin report then equals exactly what the clients were told (no loss, no double count)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from uuid import uuid4

import aiohttp
import pytest

from tests.fixtures.redis_server import RedisServer
from tests.fixtures.stack import KEYS, MODEL, Stack, gateway_stack
from tests.gateway.metering.admin_client import admin_get, summed, totals_of, usage
from tests.state.redis_setup import stop_redis_saving
from tests.state.waiting import wait_for

pytestmark = pytest.mark.redis


def redis_state(url: str, spool_dir: Path, **overrides: Any) -> dict[str, Any]:
    """The ``state`` section of a gateway sharing ``url``: its own namespace, quick recovery."""
    return {
        "kind": "redis",
        "redis_url": url,
        "namespace": f"t{uuid4().hex[:12]}",
        "spool_path": str(spool_dir / f"{uuid4().hex[:8]}.spool"),
        "connect_timeout_s": 2.0,  # generous: shared cores must not look like an outage
        "socket_timeout_s": 2.0,
        "recovery_backoff_min_s": 0.02,
        "recovery_backoff_max_s": 0.2,
        "spool_fsync_interval_s": 0.0,
        **overrides,
    }


async def _wave(stack: Stack, n: int, tag: str) -> list[Any]:
    """``n`` requests at once, streamed and not, on two tenants; returns the usage each got."""
    fast, economy = stack.client(KEYS["fast"]), stack.client(KEYS["economy"])

    async def one(i: int) -> Any:
        client = economy if i % 4 == 0 else fast
        messages = [{"role": "user", "content": f"{tag} request {i} " * (1 + i % 3)}]
        if i % 2:
            out = await client.chat.completions.create(
                model=MODEL, messages=messages, max_tokens=5 + i
            )
            return out.usage
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=messages,
            max_tokens=5 + i,
            stream=True,
            stream_options={"include_usage": True},
        )
        (u,) = [c.usage async for c in stream if c.usage is not None]
        return u

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def test_usage_survives_a_redis_outage_mid_load_exactly(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    def patch(tree: dict[str, Any]) -> None:
        # Short leases: leases saved in Redis's snapshot while requests ran lapse quickly.
        tree["state"] = redis_state(own_redis.url, tmp_path, lease_ttl_s=1.5, replicas=1)

    async with gateway_stack(n_sims=2, patch=patch, time_scale=200) as stack:
        store = stack.gateway.store
        told = await _wave(stack, 10, "before")

        # Redis goes away while a wave is in flight.
        during = asyncio.ensure_future(_wave(stack, 12, "during"))
        await stop_redis_saving(own_redis)
        told += await during
        told += await _wave(stack, 10, "down")  # served on local limits
        await stack.settle()
        status = store.status()
        assert status.state == "degraded" and status.spooled > 0

        code, body = await admin_get(stack.url, "/admin/usage")
        assert code == 503 and body["error"]["code"] == "store_unavailable"
        async with aiohttp.ClientSession() as s, s.get(stack.url + "/readyz") as resp:
            ready = await resp.json()
            assert resp.status == 200 and ready["store"]["state"] == "degraded"

        own_redis.start()
        told += await _wave(stack, 8, "back")
        await wait_for(
            lambda: store.status().healthy and store.status().spooled == 0,
            within=20,
            what="recovery and replay of the spool",
        )
        await stack.settle()

        report = await usage(stack.url)
        assert totals_of(report) == summed(told)
        assert report["total"]["requests"] == 40
        by_tenant = {g["tenant"]: g["requests"] for g in report["groups"]}
        assert by_tenant == {"acme": 29, "thrifty": 11}  # every 4th on economy
        _, records = await admin_get(stack.url, "/admin/usage/export")
        assert len(records) == 40 and len({r["request_id"] for r in records}) == 40


async def test_usage_routes_answer_503_while_redis_is_down(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    def patch(tree: dict[str, Any]) -> None:
        tree["state"] = redis_state(own_redis.url, tmp_path)

    async with gateway_stack(n_sims=1, patch=patch, time_scale=200) as stack:
        await stop_redis_saving(own_redis)
        out = await stack.client().chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "still here?"}], max_tokens=3
        )
        assert out.usage is not None
        await stack.settle()
        for path in ("/admin/usage", "/admin/usage/export"):
            code, body = await admin_get(stack.url, path)
            assert code == 503, path
            assert set(body["error"]) == {"message", "type", "param", "code"}
            assert body["error"]["code"] == "store_unavailable"
        code, state = await admin_get(stack.url, "/admin/state")
        assert code == 200 and state["store"]["state"] == "degraded"
        assert state["store"]["spooled"] == 1
