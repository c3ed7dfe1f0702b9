"""Meters every request: GPU-cost attribution while it runs, one usage record when it ends.

One ``BackendCostMeter`` per backend. ``dispatched`` opens the request's entry on its backend's
meter, the relay's token hook feeds it per streamed chunk, and ``abandoned`` (the backend
failed before output; the request retries elsewhere) or ``finish`` close it, each exactly once;
an abandoned attempt's GPU cost stays on the request. ``finish`` runs off the response path
(``Gateway._finalize``, after the slot is back).

Which requests get a usage record: exactly those that reached a backend, whatever their
outcome (a client that left mid-stream, a stream that broke: billed for what was generated;
all backends failing before output: a record billed zero that still carries its GPU cost).
Requests answered before dispatch (401/400/403/404, 429 rate limit, budget or queue timeout,
503 no backend, a client that left while queued) used no GPU and are not billed: no record,
only the request metrics and the access log; a budget reservation they held is released.

The record goes to ``store.settle``, which also turns the tenant's budget reservation into the
actual charge. Settling is idempotent per request id and the Redis store spools while Redis is
away, so a record is neither lost nor counted twice. Money is integer nano-dollars.

With shared state each replica meters only its own requests, so each attributes
``1 / state.replicas`` of every backend's cost: exact when a balancer spreads load evenly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from gateway.metering.access_log import access_line, access_log
from gateway.metering.attribution import BackendCostMeter
from gateway.metering.billing import GpuShare, usage_record
from gateway.metering.record import NANO_PER_USD, UsageRecord
from gateway.metering.usage_metrics import UsageMetrics
from gateway.pipeline.context import RequestContext
from gateway.scheduling.scheduler import Grant

if TYPE_CHECKING:
    from gateway.runtime import Gateway

log = logging.getLogger("tokengate.metering")


@dataclass(slots=True)
class _Run:
    """A request between its first dispatch and its finish: the open meter entry, if any."""

    tier: str
    meter: BackendCostMeter | None = None
    backend: str | None = None
    gpu: GpuShare = field(default_factory=GpuShare)


class Recorder:
    """The gateway's metering hooks; see the module docstring for what gets a usage record."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.usage = UsageMetrics(gw.metrics)
        self.meters: dict[str, BackendCostMeter] = {}
        self._runs: dict[str, _Run] = {}
        self._settling = 0  # finishes awaiting the store, for ``flushed``
        self._idle = asyncio.Event()
        self._idle.set()

    def start(self) -> None:
        state = self.gw.config.state
        share = 1.0 / state.replicas if state.kind == "redis" else 1.0
        now = time.monotonic()
        self.meters = {
            name: BackendCostMeter(
                b.config.gpus, b.config.gpu_hour_usd, b.config.reserve, now, share=share
            )
            for name, b in self.gw.backends.items()
        }

    async def stop(self) -> None:
        await self.flushed(within=self.gw.config.state.socket_timeout_s * 4)

    # -- while a request runs (hot path: no I/O, no allocation beyond the entry) ------------

    def dispatched(self, ctx: RequestContext) -> None:
        """The request got a slot on ``ctx.backend``: its prefill weighs in from now."""
        meter = self.meters.get(ctx.backend or "")
        if meter is None or ctx.grant is None:
            return
        run = self._runs.get(ctx.request_id)
        if run is None:
            run = self._runs[ctx.request_id] = _Run(ctx.tier_name)
        elif run.meter is not None:  # never expected: close the old entry rather than leak it
            self._close(ctx, run, ctx.grant.dispatched_at, 0)
        run.meter, run.backend = meter, ctx.backend
        meter.dispatch(
            ctx.request_id,
            ctx.prompt_tokens,
            ctx.grant.dispatched_at,
            streamed=ctx.stream,
            uses_reserve=not ctx.grant.general,
        )

    def token_hook(self, ctx: RequestContext) -> Callable[[int, float], None] | None:
        """Per streamed chunk: ``meter.tokens(request_id, n, now)``, bound once per request."""
        run = self._runs.get(ctx.request_id)
        if run is None or run.meter is None:
            return None
        return partial(run.meter.tokens, ctx.request_id)

    def abandoned(self, ctx: RequestContext, grant: Grant) -> None:
        """The backend failed before output: end its meter entry; the request may run again."""
        run = self._runs.get(ctx.request_id)
        if run is not None and run.meter is not None:
            self._close(ctx, run, time.monotonic(), 0)

    def _close(self, ctx: RequestContext, run: _Run, now: float, completion: int) -> None:
        assert run.meter is not None and run.backend is not None
        cost = run.meter.finish(ctx.request_id, now, completion)
        run.gpu = run.gpu.plus(cost.cost_nano, cost.gpu_seconds, cost.attribution)
        self.usage.gpu_cost(ctx, run.backend, cost.cost_nano)
        run.meter = None

    # -- when it ends (off the response path) ----------------------------------------------------

    async def finish(self, ctx: RequestContext) -> None:
        """Meter once: close the entry, observe, log, settle (or release the budget hold)."""
        end = ctx.finished_at or time.monotonic()
        run = self._runs.pop(ctx.request_id, None)
        record: UsageRecord | None = None
        if run is not None:
            if run.meter is not None:
                self._close(ctx, run, end, ctx.usage_tokens()[2] if ctx.grant else 0)
            if ctx.backend is not None and ctx.tier is not None:
                record = usage_record(ctx, run.gpu, end=end)
        self.usage.request(ctx, end)
        if self.gw.config.server.access_log:
            access_log.info(access_line(ctx, record, end))
        if record is None and ctx.budget_reserved_nano <= 0:
            return
        self._settling += 1
        self._idle.clear()
        try:
            if record is None:
                await self.gw.store.release_budget(ctx.tenant, ctx.request_id)
            else:
                self.usage.billed(record)
                await self._settle(record)
        finally:
            self._settling -= 1
            if self._settling == 0:
                self._idle.set()

    async def _settle(self, record: UsageRecord) -> None:
        try:
            applied = await self.gw.store.settle(record)
        except Exception:  # a bug or a refused script, not an outage (the store spools those)
            log.exception("usage record not settled, kept here: %s", record.to_json())
            self.usage.settled("failed")
            return
        self.usage.settled("applied" if applied else "duplicate")

    async def flushed(self, within: float) -> bool:
        """Wait until every finish begun so far has reached the store; False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), within)
        except TimeoutError:
            return False
        return True

    # -- observability ---------------------------------------------------------------------------

    def refresh_gauges(self) -> None:
        now = time.monotonic()
        for name, meter in self.meters.items():
            self.usage.backend_totals(name, meter.totals(now))
        self.usage.store(self.gw.store.status())

    def snapshot(self) -> dict[str, Any]:
        """For ``/admin/state``: this replica's slots per backend and tier, and each meter."""
        now = time.monotonic()
        slots: dict[str, dict[str, int]] = {name: {} for name in self.meters}
        for run in self._runs.values():
            if run.meter is not None and run.backend is not None:
                by_tier = slots.setdefault(run.backend, {})
                by_tier[run.tier] = by_tier.get(run.tier, 0) + 1
        out: dict[str, Any] = {}
        for name, meter in self.meters.items():
            t = meter.totals(now)
            out[name] = {
                "slots_by_tier": slots.get(name, {}),
                "busy_cost_usd": t.busy_cost_nano / NANO_PER_USD,
                "idle_cost_usd": t.idle_cost_nano / NANO_PER_USD,
                "gpu_seconds": t.gpu_seconds,
                "idle_gpu_seconds": t.idle_gpu_seconds,
                "reserved_gpu_seconds": t.reserved_gpu_seconds,
                "reserve_used_gpu_seconds": t.reserve_used_gpu_seconds,
                "reserve_borrowed_gpu_seconds": t.reserve_borrowed_gpu_seconds,
                "tokens": t.tokens,
                "cost_per_mtok_usd": t.cost_per_mtok_usd,
            }
        return out
