"""Scheduler policies from config, through the policy registry (never a concrete class)."""

from __future__ import annotations

from gateway.config.schema import GatewayConfig
from gateway.scheduling.scheduler import SchedulerPolicies
from policies import registry


def scheduler_policies(config: GatewayConfig, model: str) -> SchedulerPolicies:
    m = config.models.get(model)
    queue_spec, queue_field = (
        (m.queue, f"models.{model}.queue")
        if m and m.queue
        else (config.scheduler.queue, "scheduler.queue")
    )
    route_spec, route_field = (
        (m.route, f"models.{model}.route")
        if m and m.route
        else (config.scheduler.route, "scheduler.route")
    )
    return SchedulerPolicies(
        queue_factory=registry.factory("queue", queue_spec, queue_field),
        router=registry.build("route", route_spec, route_field),
        batchers={
            name: registry.build("batch", t.batch, f"tiers.{name}.batch")
            for name, t in config.tiers.items()
        },
        default_batcher=registry.build("batch", {"policy": "continuous"}, "tiers.*.batch"),
        holds={
            name: t.dispatch_hold_s for name, t in config.tiers.items() if t.dispatch_hold_s > 0
        },
    )


def wanted_metrics_interval(config: GatewayConfig) -> float | None:
    """The shortest engine-metrics interval any model's router asks for (None: no scraping)."""
    intervals = []
    for model in config.model_names():
        policies = scheduler_policies(config, model)
        interval = getattr(policies.router, "metrics_interval_s", None)
        if interval:
            intervals.append(float(interval))
    return min(intervals) if intervals else None
