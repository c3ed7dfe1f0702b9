"""Prometheus metrics of the gateway, on a registry owned by the app (never the global one).

Label children are cached per label tuple: ``labels()`` costs a dict lookup and
a lock, and the hot path observes a handful of series per request.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

_LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.0,
    3.0,
    5.0,
    7.5,
    10.0,
    20.0,
    30.0,
    60.0,
    120.0,
)


class GatewayMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "tokengate_requests",
            "Requests answered, by model, tier and HTTP status",
            ["model", "tier", "status"],
            registry=r,
        )
        self.queue_wait = Histogram(
            "tokengate_queue_wait_seconds",
            "Time from arrival to a backend slot",
            ["model", "tier"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "tokengate_ttft_seconds",
            "Time from arrival to the first output byte sent to the client",
            ["model", "tier"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.e2e = Histogram(
            "tokengate_e2e_seconds",
            "Time from arrival to the last byte",
            ["model", "tier"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.prompt_tokens = Counter(
            "tokengate_prompt_tokens",
            "Prompt tokens processed (engine usage, else counted)",
            ["tenant", "tier", "model", "backend"],
            registry=r,
        )
        self.cached_tokens = Counter(
            "tokengate_cached_prompt_tokens",
            "Prompt tokens served from the engine's prefix cache",
            ["tenant", "tier", "model", "backend"],
            registry=r,
        )
        self.completion_tokens = Counter(
            "tokengate_completion_tokens",
            "Completion tokens generated",
            ["tenant", "tier", "model", "backend"],
            registry=r,
        )
        self.charge = Counter(
            "tokengate_charge_usd",
            "What the tokens earned at tier prices",
            ["tenant", "tier", "model", "backend"],
            registry=r,
        )
        self.gpu_cost = Counter(
            "tokengate_gpu_cost_usd",
            "GPU cost attributed to requests",
            ["tenant", "tier", "model", "backend"],
            registry=r,
        )
        self.backend_inflight = Gauge(
            "tokengate_backend_inflight",
            "Requests in flight on a backend from this replica",
            ["backend"],
            registry=r,
        )
        self.backend_up = Gauge(
            "tokengate_backend_up",
            "1 while a backend passes its health checks",
            ["backend"],
            registry=r,
        )
        self.backend_slots = Gauge(
            "tokengate_backend_slots_in_use",
            "Slots held, by slot class",
            ["backend", "slot_class"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "tokengate_queue_depth", "Requests waiting for a slot", ["model", "tier"], registry=r
        )
        self.idle_cost = Gauge(
            "tokengate_backend_idle_cost_usd",
            "GPU cost of time with nothing in flight",
            ["backend"],
            registry=r,
        )
        self.busy_cost = Gauge(
            "tokengate_backend_busy_cost_usd",
            "GPU cost of time with requests in flight",
            ["backend"],
            registry=r,
        )
        self.reserved_gpu_seconds = Gauge(
            "tokengate_reserved_gpu_seconds",
            "GPU-seconds held back for reserve tiers",
            ["backend"],
            registry=r,
        )
        self.reserve_used_gpu_seconds = Gauge(
            "tokengate_reserve_used_gpu_seconds",
            "GPU-seconds reserve tiers used",
            ["backend"],
            registry=r,
        )
        self.spooled_records = Gauge(
            "tokengate_usage_spooled_records",
            "Usage records spooled locally while the store is unreachable",
            registry=r,
        )
        self.store_degraded = Gauge(
            "tokengate_store_degraded", "1 while shared state is unreachable", registry=r
        )
        self.reserve_borrowed_gpu_seconds = Gauge(
            "tokengate_reserve_borrowed_gpu_seconds",
            "GPU-seconds reserve tiers ran beyond the reserve, on general capacity",
            ["backend"],
            registry=r,
        )
        self.spool_dropped = Gauge(
            "tokengate_usage_spool_dropped_records",
            "Usage records lost because the local spool was full",
            registry=r,
        )
        self.usage_records = Counter(
            "tokengate_usage_records",
            "Usage records handed to the store, by result (applied, duplicate, failed)",
            ["result"],
            registry=r,
        )
        self.upstream_retries = Counter(
            "tokengate_upstream_retries",
            "Requests retried on another backend before the first byte",
            ["backend", "reason"],
            registry=r,
        )
        self.rate_limited = Counter(
            "tokengate_rate_limited",
            "Requests refused by a rate limit or budget",
            ["tenant", "reason"],
            registry=r,
        )

    @lru_cache(maxsize=4096)  # noqa: B019 - one GatewayMetrics per app; the cache lives as long as it
    def child(self, metric_name: str, *labels: str) -> Any:
        return getattr(self, metric_name).labels(*labels)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
