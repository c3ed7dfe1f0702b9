"""Backend health: active probes with hysteresis, plus passive marking on connect failures.

A backend goes down after ``unhealthy_after`` failed probes in a row, or at once
when a request cannot connect to it; it comes back after ``healthy_after``
good probes. ``/readyz`` and the schedulers follow these verdicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp

from gateway.upstream.backend import BackendState
from gateway.upstream.pool import UpstreamPool

log = logging.getLogger("tokengate.health")


class HealthMonitor:
    def __init__(self, pool: UpstreamPool, backends: list[BackendState]) -> None:
        self.pool = pool
        self.backends = backends
        self._fails: dict[str, int] = {b.name: 0 for b in backends}
        self._oks: dict[str, int] = {b.name: 0 for b in backends}
        self._tasks: list[asyncio.Task[None]] = []

    async def probe(self, b: BackendState) -> bool:
        h = b.config.health
        try:
            status, _ = await self.pool.get(b, h.path, h.timeout_s)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self._verdict(b, False, type(exc).__name__)
            return False
        ok = 200 <= status < 300
        self._verdict(b, ok, None if ok else f"health returned {status}")
        return ok

    async def probe_all(self) -> None:
        """One round over every backend, concurrently (start-up waits for it)."""
        await asyncio.gather(*(self.probe(b) for b in self.backends))

    def report_failure(self, b: BackendState, reason: str) -> None:
        """A request could not connect: stop routing there until probes pass again."""
        self._oks[b.name] = 0
        self._fails[b.name] = b.config.health.unhealthy_after
        if b.set_health(False, reason):
            log.warning("backend %s marked down: %s", b.name, reason)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._loop(b), name=f"health:{b.name}") for b in self.backends
        ]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []

    async def _loop(self, b: BackendState) -> None:
        while True:
            await asyncio.sleep(b.config.health.interval_s)
            try:
                await self.probe(b)
            except Exception as exc:  # a dead probe loop would freeze the verdict
                log.exception("health probe of %s failed unexpectedly", b.name)
                self._verdict(b, False, type(exc).__name__)

    def _verdict(self, b: BackendState, ok: bool, error: str | None) -> None:
        h = b.config.health
        if ok:
            self._fails[b.name] = 0
            self._oks[b.name] += 1
            if not b.healthy and self._oks[b.name] >= h.healthy_after:
                b.set_health(True)
                log.info("backend %s is up", b.name)
        else:
            self._oks[b.name] = 0
            self._fails[b.name] += 1
            if b.healthy and self._fails[b.name] >= h.unhealthy_after:
                b.set_health(False, error)
                log.warning("backend %s marked down: %s", b.name, error)
            elif not b.healthy:
                b.last_error = error
