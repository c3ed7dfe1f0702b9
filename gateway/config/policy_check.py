"""Config check: every policy spec resolves in the registry, reported by field path."""

from __future__ import annotations

from typing import Any

from gateway.config.schema import GatewayConfig, Problem


def policy_problems(cfg: GatewayConfig) -> list[Problem]:
    from policies import registry

    specs: list[tuple[str, dict[str, Any], tuple[str | int, ...]]] = [
        ("queue", cfg.scheduler.queue, ("scheduler", "queue")),
        ("route", cfg.scheduler.route, ("scheduler", "route")),
    ]
    for name, m in cfg.models.items():
        if m.queue is not None:
            specs.append(("queue", m.queue, ("models", name, "queue")))
        if m.route is not None:
            specs.append(("route", m.route, ("models", name, "route")))
    for name, t in cfg.tiers.items():
        specs.append(("batch", t.batch, ("tiers", name, "batch")))
    problems: list[Problem] = []
    for kind, spec, path in specs:
        try:
            registry.build(kind, spec, ".".join(map(str, path)))
        except registry.PolicyConfigError as exc:
            # The registry already names the full field path ("tiers.economy.batch.max_wait_ms").
            problems.extend(
                (tuple(field.split(".")), message, value) for field, message, value in exc.problems
            )
    return problems
