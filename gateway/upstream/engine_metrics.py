"""Engine load from an engine's own Prometheus ``/metrics`` (vLLM names), for engine_load routing.

vLLM renamed ``vllm:gpu_cache_usage_perc`` to ``vllm:kv_cache_usage_perc`` (the
old name is gone in 0.12), so both are read. Values are summed over label sets
(one engine may export a series per model).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import aiohttp

from gateway.upstream.backend import BackendState
from gateway.upstream.pool import UpstreamPool
from policies.protocols import EngineLoad

log = logging.getLogger("tokengate.engine_metrics")

_WAITING = ("vllm:num_requests_waiting", "sglang:num_queue_reqs")
_RUNNING = ("vllm:num_requests_running", "sglang:num_running_reqs")
_KV = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage")


def parse_engine_load(text: str, now: float) -> EngineLoad | None:
    """Read waiting/running/KV use from Prometheus text; None when none of the names appear."""
    sums: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        name_end = min((i for i in (line.find("{"), line.find(" ")) if i >= 0), default=-1)
        if name_end < 0:
            continue
        name = line[:name_end]
        if name not in _WAITING and name not in _RUNNING and name not in _KV:
            continue
        try:
            value = float(line.rsplit("}", 1)[-1].split()[0])
        except (ValueError, IndexError):
            continue
        sums[name] = sums.get(name, 0.0) + value
    if not sums:
        return None

    def first(names: tuple[str, ...]) -> float:
        return next((sums[n] for n in names if n in sums), 0.0)

    return EngineLoad(
        waiting=first(_WAITING), running=first(_RUNNING), kv_cache_usage=first(_KV), scraped_at=now
    )


class EngineLoadScraper:
    """Scrapes every backend's ``/metrics`` at an interval while a router needs it."""

    def __init__(
        self,
        pool: UpstreamPool,
        backends: list[BackendState],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pool = pool
        self.backends = backends
        self.clock = clock
        self.interval_s: float | None = None
        self._task: asyncio.Task[None] | None = None

    async def scrape(self, b: BackendState) -> None:
        try:
            status, body = await self.pool.get(
                b, "/metrics", timeout_s=max(0.5, (self.interval_s or 1) * 2)
            )
        except (aiohttp.ClientError, OSError, TimeoutError):
            return  # stale data ages out; the router treats it as busy
        if status == 200:
            load = parse_engine_load(body.decode("utf-8", "replace"), self.clock())
            if load is not None:
                b.engine_load = load

    def set_interval(self, interval_s: float | None) -> None:
        """Start, retime or stop scraping (hot reload may change the router)."""
        self.interval_s = interval_s
        if interval_s is None and self._task is not None:
            self._task.cancel()
            self._task = None
        elif interval_s is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="engine-metrics")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while self.interval_s is not None:
            await asyncio.gather(*(self.scrape(b) for b in self.backends))
            await asyncio.sleep(self.interval_s)
