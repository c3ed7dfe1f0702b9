"""Per-request cost of the Store: check_rate + reserve_budget + acquire/release slot + settle.

    python benchmarks/store_bench.py [--requests 5000] [--concurrency 32] [--redis-url URL]

Without --redis-url it starts a private redis-server on a free port (never the machine's own).
Reports µs per request run one at a time (latency) and requests/s with many in flight
(throughput), and the memory store's bytes per retained usage record.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from redis.asyncio import Redis

from gateway.metering.record import UsageRecord
from gateway.state.config import StateConfig, store_from_config
from gateway.state.memory import MemoryStore
from gateway.state.store import Budget, RateLimits, Store

LIMITS = RateLimits(rpm=10**9, tpm=10**12)
BUDGET = Budget(limit_nano=10**15, period="month")


def record(i: int, run: str) -> UsageRecord:
    return UsageRecord(
        request_id=f"{run}-{i:08d}-0b1c2d3e4f5a6b7c",
        ts=time.time(),
        tenant=f"tenant-{i % 20}",
        key_id=f"key-{i % 50}",
        tier=("fast", "batch", "research")[i % 3],
        model="llama-3.1-8b",
        backend=f"gpu-{i % 4}",
        prompt_tokens=200 + i % 300,
        cached_tokens=i % 64,
        completion_tokens=64 + i % 128,
        usage_source="engine",
        queue_ms=12.5,
        ttft_ms=45.0,
        e2e_ms=400.0,
        charge_nano=123_456 + i,
        gpu_cost_nano=54_321 + i,
        gpu_seconds=0.0123,
        attribution="streamed",
        used_reserve=False,
    )


async def one_request(store: Store, i: int, run: str) -> None:
    r = record(i, run)
    await store.check_rate(r.key_id, LIMITS, r.prompt_tokens + 256)
    await store.reserve_budget(r.tenant, r.request_id, 1_000_000, BUDGET)
    lease = f"lease-{run}-{i}"
    assert r.backend is not None
    await store.acquire_slot(r.backend, lease, general=True, capacity=10**6, general_limit=10**6)
    await store.release_slot(r.backend, lease)
    await store.settle(r)


async def measure(store: Store, requests: int, concurrency: int, run: str) -> tuple[float, float]:
    """(µs per request one at a time, requests/s with ``concurrency`` in flight)."""
    for i in range(200):  # warm-up: connections, scripts, dict sizes
        await one_request(store, i, f"{run}w")
    start = time.perf_counter()
    for i in range(requests):
        await one_request(store, i, f"{run}s")
    latency_us = (time.perf_counter() - start) / requests * 1e6

    queue = iter(range(requests))

    async def worker() -> None:
        for i in queue:
            await one_request(store, i, f"{run}c")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latency_us, requests / (time.perf_counter() - start)


def bytes_per_record(count: int = 50_000) -> float:
    async def fill() -> MemoryStore:
        store = MemoryStore(max_records=count)
        for i in range(count):
            await store.settle(record(i, "mem"))
        return store

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = asyncio.run(fill())
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del store
    return (after - before) / count


@contextmanager
def private_redis() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found; pass --redis-url")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tempfile.mkdtemp()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


async def run(args: argparse.Namespace, redis_url: str) -> None:
    in_flight = f"requests/s (x{args.concurrency})"
    print(f"{'store':8} {'µs/request (sequential)':>24} {in_flight:>20}")
    memory = MemoryStore()
    latency, throughput = await measure(memory, args.requests, args.concurrency, "m")
    print(f"{'memory':8} {latency:24.1f} {throughput:20.0f}")
    spool = Path(tempfile.mkdtemp()) / "bench.spool"
    config = StateConfig(
        kind="redis",
        redis_url=redis_url,
        namespace=f"bench{time.time_ns()}",
        spool_path=spool,
        socket_timeout_s=2.0,
        connect_timeout_s=2.0,
    )
    store = store_from_config(config)
    await store.start()
    raw = Redis.from_url(redis_url)
    try:
        await raw.config_resetstat()
        latency, throughput = await measure(store, args.requests, args.concurrency, "r")
        print(f"{'redis':8} {latency:24.1f} {throughput:20.0f}   ({store.status().state})")
        evalsha = (await raw.info("commandstats")).get("cmdstat_evalsha", {})
        print(f"redis-server time per script call: {evalsha.get('usec_per_call', 0):.1f} µs")
    finally:
        await raw.aclose()
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(
        "5 store calls per request: check_rate, reserve_budget, acquire_slot, release_slot, settle"
    )
    if args.redis_url:
        asyncio.run(run(args, args.redis_url))
    else:
        with private_redis() as url:
            asyncio.run(run(args, url))
    print(f"memory store: {bytes_per_record():.0f} bytes per retained usage record (with marker)")


if __name__ == "__main__":
    main()
