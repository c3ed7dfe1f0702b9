"""What the recorder tells Prometheus: per-request series, billed usage, meter and store gauges.

Counters grow per request (tokens, charge, attributed cost by tenant/tier/model/backend); the
meters' cumulative figures (idle cost, reserved GPU-seconds) and the store's status are set as
gauges at scrape time, since they are computed, not counted.
"""

from __future__ import annotations

from gateway.metering.attribution import BackendCostTotals
from gateway.metering.record import NANO_PER_USD, UsageRecord
from gateway.observability.metrics import GatewayMetrics
from gateway.pipeline.context import RequestContext
from gateway.state.store import StoreStatus


class UsageMetrics:
    def __init__(self, metrics: GatewayMetrics) -> None:
        self.m = metrics

    def request(self, ctx: RequestContext, end: float) -> None:
        """Every request, billed or not: its status and, once it had a slot, its latencies."""
        m = self.m
        tier = ctx.tier_name or "-"
        model = ctx.model or "-"
        m.child("requests", model, tier, str(ctx.status)).inc()
        if ctx.grant is not None:
            m.child("queue_wait", model, tier).observe(ctx.queue_s)
            if ctx.first_token_at is not None:
                m.child("ttft", model, tier).observe(ctx.first_token_at - ctx.arrival)
            m.child("e2e", model, tier).observe(end - ctx.arrival)

    def gpu_cost(self, ctx: RequestContext, backend: str, cost_nano: int) -> None:
        """Attributed cost, under the backend that ran it (an abandoned attempt's too)."""
        if cost_nano:
            labels = (ctx.tenant, ctx.tier_name, ctx.model, backend)
            self.m.child("gpu_cost", *labels).inc(cost_nano / NANO_PER_USD)

    def billed(self, r: UsageRecord) -> None:
        labels = (r.tenant, r.tier, r.model, r.backend or "-")
        m = self.m
        if r.prompt_tokens:
            m.child("prompt_tokens", *labels).inc(r.prompt_tokens)
        if r.cached_tokens:
            m.child("cached_tokens", *labels).inc(r.cached_tokens)
        if r.completion_tokens:
            m.child("completion_tokens", *labels).inc(r.completion_tokens)
        if r.charge_nano:
            m.child("charge", *labels).inc(r.charge_nano / NANO_PER_USD)

    def settled(self, result: str) -> None:
        self.m.child("usage_records", result).inc()

    def backend_totals(self, backend: str, t: BackendCostTotals) -> None:
        m = self.m
        m.child("idle_cost", backend).set(t.idle_cost_nano / NANO_PER_USD)
        m.child("busy_cost", backend).set(t.busy_cost_nano / NANO_PER_USD)
        m.child("reserved_gpu_seconds", backend).set(t.reserved_gpu_seconds)
        m.child("reserve_used_gpu_seconds", backend).set(t.reserve_used_gpu_seconds)
        m.child("reserve_borrowed_gpu_seconds", backend).set(t.reserve_borrowed_gpu_seconds)

    def store(self, status: StoreStatus) -> None:
        self.m.spooled_records.set(status.spooled)
        self.m.spool_dropped.set(status.spool_dropped)
        self.m.store_degraded.set(0 if status.healthy else 1)
