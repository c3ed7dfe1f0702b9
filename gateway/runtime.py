"""The assembled gateway: long-lived parts (pool, backends, schedulers, store) and the
current config generation (keys, tiers, tokenizer), which hot reload swaps whole.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from gateway.config.loader import ConfigError, load_config
from gateway.config.schema import GatewayConfig
from gateway.metering.recorder import Recorder
from gateway.metering.tokens import ChatOverhead, TokenCounter, load_encoding
from gateway.observability.metrics import GatewayMetrics
from gateway.pipeline.admission import Admission
from gateway.pipeline.auth import Keyring
from gateway.pipeline.context import RequestContext
from gateway.scheduling.build import scheduler_policies, wanted_metrics_interval
from gateway.scheduling.scheduler import Scheduler
from gateway.scheduling.shared_slots import SharedSlots
from gateway.scheduling.slots import LocalSlots, SlotLedger
from gateway.state.config import store_from_config
from gateway.upstream.backend import BackendState
from gateway.upstream.engine_metrics import EngineLoadScraper
from gateway.upstream.health import HealthMonitor
from gateway.upstream.pool import UpstreamPool
from policies.ticket import Usage

log = logging.getLogger("tokengate")


@dataclass(frozen=True, slots=True)
class Generation:
    """What one config file yields for the request path; a request keeps the one it started with."""

    config: GatewayConfig
    keyring: Keyring
    counter: TokenCounter


def generation_of(config: GatewayConfig) -> Generation:
    t = config.tokenizer
    counter = TokenCounter(
        load_encoding(t.encoding),
        ChatOverhead(
            t.tokens_per_message, t.tokens_per_name, t.reply_priming_tokens, t.image_tokens
        ),
    )
    return Generation(config, Keyring(config.keys), counter)


class Gateway:
    def __init__(
        self, config: GatewayConfig, config_path: str | os.PathLike[str] | None = None
    ) -> None:
        self.runtime = generation_of(config)
        self.config_path = config_path  # what reload re-reads; None: built in memory (demo, tests)
        self.metrics = GatewayMetrics()
        self.backends = {b.name: BackendState(b) for b in config.backends}
        self.pool = UpstreamPool()
        self.health = HealthMonitor(self.pool, list(self.backends.values()))
        self.scraper = EngineLoadScraper(self.pool, list(self.backends.values()))
        self.store = store_from_config(config.state)
        self.slots: SlotLedger = (
            SharedSlots(self.store, self.backends.values(), config.state.lease_ttl_s / 3)
            if config.state.kind == "redis"
            else LocalSlots()
        )
        self.schedulers: dict[str, Scheduler] = {}
        self.recorder = Recorder(self)
        self.admission = Admission(self)
        self._seq = itertools.count()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def config(self) -> GatewayConfig:
        return self.runtime.config

    def next_seq(self) -> int:
        return next(self._seq)

    # -- lifecycle (the app's cleanup context calls these) ------------------------------

    async def start(self) -> None:
        await self.store.start()
        await self.pool.start()
        await self.health.probe_all()
        self.health.start()
        self._build_schedulers(self.config)
        self.recorder.start()

    async def stop(self) -> None:
        for s in self.schedulers.values():
            await s.stop()
        await self.health.stop()
        await self.scraper.stop()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.recorder.stop()
        self.slots.close()
        await self.pool.close()
        await self.store.close()

    def _build_schedulers(self, config: GatewayConfig) -> None:
        for model in config.model_names():
            backends = [b for b in self.backends.values() if model in b.config.models]
            policies = scheduler_policies(config, model)
            s = Scheduler(model, backends, policies, self.slots)
            s.start()
            self.schedulers[model] = s
        self.scraper.set_interval(wanted_metrics_interval(config))

    # -- hot reload ------------------------------------------------------------------------

    async def reload_from(self, path: str | os.PathLike[str] | None = None) -> list[str]:
        """Re-read ``path`` (default: ``config_path``); apply it whole or not at all.

        Returns the problems, each led by its field path (empty: applied).
        """
        path = self.config_path if path is None else path
        if path is None:
            return ["(top level): the gateway was not started from a config file"]
        try:
            config = load_config(path)
        except ConfigError as exc:
            log.error("reload refused, the running config stays:\n%s", exc.render())
            return exc.lines()
        problems = self.reload(config)
        if problems:
            log.error("reload refused, the running config stays: %s", "; ".join(problems))
        else:
            log.info("reloaded %s", path)
        return problems

    def reload(self, config: GatewayConfig) -> list[str]:
        """Swap tiers, keys, policies and backend limits; queued and in-flight requests carry on."""
        old = self.config
        problems = []
        served = {b.name: set(b.models) for b in config.backends}
        if served != {b.name: set(b.models) for b in old.backends}:
            problems.append("backends: adding or removing backends or their models needs a restart")
        if config.state != old.state:
            problems.append("state: changing the state store needs a restart")
        if config.server.host != old.server.host or config.server.port != old.server.port:
            problems.append("server: changing host or port needs a restart")
        if problems:
            return problems
        try:
            generation = generation_of(config)
            policies = {m: scheduler_policies(config, m) for m in self.schedulers}
        except Exception as exc:  # any failure keeps the old config running
            return [f"{type(exc).__name__}: {exc}"]
        for b in config.backends:
            self.backends[b.name].config = b
        for model, s in self.schedulers.items():
            s.swap_policies(policies[model])
        self.runtime = generation
        self.scraper.set_interval(wanted_metrics_interval(config))
        return []

    # -- per request ------------------------------------------------------------------------

    def response_headers(self, ctx: RequestContext) -> dict[str, str]:
        h = dict(ctx.response_headers)
        if ctx.tier_name:
            h["x-tokengate-tier"] = ctx.tier_name
        if ctx.backend is not None:
            h["x-tokengate-backend"] = ctx.backend
            h["x-tokengate-queue-ms"] = f"{ctx.queue_s * 1000:.1f}"
        if ctx.truncated_messages:
            h["x-tokengate-truncated-messages"] = str(ctx.truncated_messages)
        return h

    def finish(self, ctx: RequestContext) -> None:
        """Release and meter off the response path (also runs for a cancelled request)."""
        self.spawn(self._finalize(ctx))

    async def _finalize(self, ctx: RequestContext) -> None:
        grant = ctx.grant
        prompt, cached, completion, _ = ctx.usage_tokens()
        try:
            if grant is not None and ctx.ticket is not None:
                usage = Usage(prompt, completion, cached)
                await self.schedulers[ctx.model].release(grant, ctx.ticket, usage)
        finally:
            await self.recorder.finish(ctx)

    async def finished_work(self, within: float) -> bool:
        """Wait for the releases and usage settles of every request answered so far (so an
        admin report read from this replica includes them); False when ``within`` ran out."""
        pending = list(self._tasks)
        if pending:
            _, still = await asyncio.wait(pending, timeout=within)
            if still:
                return False
        return await self.recorder.flushed(within)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("background task failed", exc_info=exc)

    # -- observability ------------------------------------------------------------------------

    def refresh_gauges(self) -> None:
        """Set point-in-time gauges just before a scrape (cheaper than on every change)."""
        m = self.metrics
        for name, b in self.backends.items():
            m.child("backend_up", name).set(1 if b.healthy else 0)
            m.child("backend_inflight", name).set(b.inflight)
            m.child("backend_slots", name, "general").set(b.general_inflight)
            m.child("backend_slots", name, "reserved").set(b.reserved_inflight)
            m.child("backend_slots", name, "borrowed").set(b.reserve_inflight - b.reserved_inflight)
        for model, s in self.schedulers.items():
            depth = s.waiting_by_tier()
            for tier in self.config.tiers:
                m.child("queue_depth", model, tier).set(depth.get(tier, 0))
        self.recorder.refresh_gauges()

    def state_snapshot(self) -> dict[str, Any]:
        backends = {}
        for name, b in self.backends.items():
            backends[name] = {
                "healthy": b.healthy,
                "last_error": b.last_error,
                "capacity": b.capacity,
                "general_limit": b.general_limit,
                "reserved_slots": b.reserved_slots,
                "inflight": b.inflight,
                "general_inflight": b.general_inflight,
                "reserved_inflight": b.reserved_inflight,
                "borrowed_inflight": b.reserve_inflight - b.reserved_inflight,
                "inflight_tokens": b.inflight_tokens,
                "gpus": b.config.gpus,
                "models": list(b.config.models),
            }
        return {
            "backends": backends,
            "schedulers": {m: s.snapshot() for m, s in self.schedulers.items()},
            "gpus": sum(b.config.gpus for b in self.backends.values()),
            "store": self.store.status().to_json(),
        }
