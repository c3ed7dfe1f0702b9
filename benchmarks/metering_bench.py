"""Per-request cost of the gateway's metering path: admission (rate limit + budget reservation),
GPU-cost attribution (dispatch, 64 streamed token events) and finish (usage record, Prometheus,
settle), on the memory store and on Redis.

    python benchmarks/metering_bench.py [--requests 3000] [--concurrency 32] [--redis-url URL]

Without --redis-url it starts a private redis-server on a free port (``store_bench.py``'s).
The slot lease is left out: ``store_bench.py`` measures acquire/release alone.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from store_bench import private_redis

from gateway.config.loader import parse_config
from gateway.pipeline.context import RequestContext
from gateway.runtime import Gateway
from gateway.scheduling.scheduler import Grant

TOKENS_PER_REQUEST = 64
KEY = "sk-bench-0123456789"


def tree(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "server": {"access_log": False},
        "state": state,
        "backends": [
            {"name": "gpu", "url": "http://127.0.0.1:9", "models": ["m"], "gpu_hour_usd": 2.0}
        ],
        "tiers": {"std": {"prices": {"input": 0.6, "output": 2.4}}},
        "keys": [
            {
                "key": KEY,
                "tenant": "bench",
                "tier": "std",
                "rpm": 10**9,
                "tpm": 10**12,
                "budget": {"usd": 10**6, "period": "month"},
            }
        ],
    }


async def one_request(gw: Gateway, run: str, i: int) -> None:
    rt = gw.runtime
    ctx = RequestContext("chat", request_id=f"req-{run}-{i}")
    ctx.key = rt.keyring.lookup(KEY)
    ctx.tier_name, ctx.tier = "std", rt.config.tiers["std"]
    ctx.model, ctx.stream = "m", True
    ctx.prompt_tokens, ctx.max_tokens = 200, 128
    await gw.admission.admit(ctx)
    now = time.monotonic()
    ctx.grant = Grant(gw.backends["gpu"], f"lease-{run}-{i}", True, False, 0.0, now)
    ctx.backend = "gpu"
    gw.recorder.dispatched(ctx)
    on_tokens = gw.recorder.token_hook(ctx)
    assert on_tokens is not None
    for _ in range(TOKENS_PER_REQUEST):
        on_tokens(1, time.monotonic())
    ctx.first_token_at = now
    ctx.chunks_with_tokens = TOKENS_PER_REQUEST
    ctx.engine_usage = {"prompt_tokens": 200, "completion_tokens": TOKENS_PER_REQUEST}
    ctx.finished_at = time.monotonic()
    await gw.recorder.finish(ctx)


async def measure(gw: Gateway, requests: int, concurrency: int, run: str) -> tuple[float, float]:
    """(µs per request one at a time, requests/s with ``concurrency`` in flight)."""
    for i in range(200):
        await one_request(gw, f"{run}w", i)
    start = time.perf_counter()
    for i in range(requests):
        await one_request(gw, f"{run}s", i)
    latency_us = (time.perf_counter() - start) / requests * 1e6
    queue = iter(range(requests))

    async def worker() -> None:
        for i in queue:
            await one_request(gw, f"{run}c", i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latency_us, requests / (time.perf_counter() - start)


async def bench(name: str, state: dict[str, Any], args: argparse.Namespace) -> None:
    gw = Gateway(parse_config(tree(state), env={}, source="bench"))
    await gw.store.start()
    gw.recorder.start()
    try:
        latency, throughput = await measure(gw, args.requests, args.concurrency, name)
        print(f"{name:8} {latency:24.1f} {throughput:20.0f}   ({gw.store.status().state})")
    finally:
        await gw.recorder.stop()
        await gw.store.close()


async def run(args: argparse.Namespace, redis_url: str) -> None:
    in_flight = f"requests/s (x{args.concurrency})"
    print(f"{'store':8} {'µs/request (sequential)':>24} {in_flight:>20}")
    await bench("memory", {"kind": "memory"}, args)
    spool = Path(tempfile.mkdtemp()) / "bench.spool"
    redis = {
        "kind": "redis",
        "redis_url": redis_url,
        "namespace": f"bench{time.time_ns()}",
        "spool_path": str(spool),
        "socket_timeout_s": 2.0,
        "connect_timeout_s": 2.0,
    }
    await bench("redis", redis, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(
        "per request: check_rate + reserve_budget, meter dispatch + "
        f"{TOKENS_PER_REQUEST} token events, usage record + Prometheus + settle"
    )
    if args.redis_url:
        asyncio.run(run(args, args.redis_url))
    else:
        with private_redis() as url:
            asyncio.run(run(args, url))


if __name__ == "__main__":
    main()
