"""A gateway config made ready for ``compare``: simulated backends, its own keys, one clock.

``compare`` runs a config as written except for what it must own to measure it fairly:

- every backend becomes an in-process simulated GPU server; its preset is named with
  ``--sim-preset [BACKEND=]PRESET`` or inferred from the backend's engine model and ``gpus``
  (``*70b*`` on 4 GPUs → ``h100x4-llama3.1-70b``, ``*8b*`` on 1 → ``h100-llama3.1-8b``; an
  ``fp8`` in the name picks the FP8 preset);
- keys are replaced by one key per tier (``sk-compare-<tier>``, no RPM/TPM/budget, which would
  confound the measurement) plus an admin key; state is the in-memory store;
- with a time scale s ≠ 1 the simulated GPUs run s times faster, so every duration in the
  config is divided by s and every rate multiplied by s: tier ``min_ttft_ms``,
  ``ttft_target_ms``, ``queue_timeout_ms``, ``max_output_tokens_per_s``, and policy parameters
  named ``*_ms``/``*_s`` (durations) or ``*_per_s`` (rates), defaults included. Measured times
  are then multiplied by s on the way out, so every figure is in simulated (GPU) time.

Pure: trees and values in, trees and values out; the one import from the gateway validates.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.config.loader import parse_config
from gateway.config.schema import GatewayConfig
from loadtest.sim.presets import PRESETS
from policies.registry import factory

ADMIN_KEY = "sk-compare-admin"
PLACEHOLDER_URL = "http://127.0.0.1:9"  # replaced by the simulator's URL before the gateway starts


def tier_key(tier: str) -> str:
    return f"sk-compare-{tier}"


@dataclass(frozen=True, slots=True)
class SimBackend:
    """One backend of the config, to be played by a simulated server."""

    name: str
    preset: str
    engine_models: tuple[str, ...]
    gpus: int
    gpu_hour_usd: float


@dataclass(frozen=True, slots=True)
class Scenario:
    """One config, ready to run: the rewritten tree, its simulators, its keys and its economics."""

    name: str
    source: str
    tree: dict[str, Any]  # validated, rewritten, time-scaled; backend URLs still placeholders
    sims: tuple[SimBackend, ...]
    model: str  # the public model the workload asks for
    tiers: tuple[str, ...]
    prices: Mapping[str, Mapping[str, float | None]]  # tier → {input, cached_input, output}
    time_scale: float

    @property
    def gpus(self) -> int:
        return sum(s.gpus for s in self.sims)

    @property
    def fleet_usd_per_hour(self) -> float:
        """What the fleet costs per (simulated) hour, busy or idle: Σ gpus · gpu_hour_usd."""
        return sum(s.gpus * s.gpu_hour_usd for s in self.sims)

    def tier_for(self, traffic_class: str) -> str:
        """The tier a workload class is sent to: the tier of that name, else the first tier."""
        return traffic_class if traffic_class in self.tiers else self.tiers[0]

    def gateway_config(self, sim_urls: Sequence[str]) -> GatewayConfig:
        """The config with each backend pointing at its simulator."""
        tree = copy.deepcopy(self.tree)
        for backend, url in zip(tree["backends"], sim_urls, strict=True):
            backend["url"] = url
        return parse_config(tree, env={}, source=self.source)


def infer_preset(engine_model: str, gpus: int) -> str | None:
    """The simulator preset that plays this engine model on this many H100s, if there is one."""
    name = engine_model.lower()
    fp8 = "-fp8" if "fp8" in name else ""
    if re.search(r"70b", name) and gpus == 4:
        return f"h100x4-llama3.1-70b{fp8}"
    if re.search(r"(?<!\d)8b", name) and gpus == 1:
        return f"h100-llama3.1-8b{fp8}"
    return None


def parse_sim_presets(specs: Sequence[str]) -> dict[str, str]:
    """``--sim-preset PRESET`` (every backend) or ``BACKEND=PRESET``; ``*`` keys the default."""
    out: dict[str, str] = {}
    for spec in specs:
        backend, sep, preset = spec.rpartition("=")
        key = backend if sep else "*"
        if preset not in PRESETS:
            raise ValueError(f"--sim-preset {spec!r}: unknown preset; valid: {', '.join(PRESETS)}")
        out[key] = preset
    return out


def scale_policy(kind: str, spec: Mapping[str, Any], time_scale: float) -> dict[str, Any]:
    """A policy spec with its defaults filled in and its durations and rates on the fast clock."""
    made = factory(kind, dict(spec))  # type: ignore[call-overload]
    return {"policy": spec["policy"], **scale_params(made.kwargs, time_scale)}


def scale_params(params: Mapping[str, Any], time_scale: float) -> dict[str, Any]:
    """``*_per_s`` * s (rates), ``*_ms`` / ``*_s`` ÷ s (durations); other values as they are."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        scaled = value
        if isinstance(value, int | float) and not isinstance(value, bool):
            if key.endswith("_per_s"):
                scaled = value * time_scale
            elif key.endswith(("_ms", "_s")):
                scaled = value / time_scale
        out[key] = scaled
    return out


def scale_tree(tree: dict[str, Any], time_scale: float) -> dict[str, Any]:
    """A validated config dump with every duration ÷ s and every rate * s (see the module doc)."""
    tree = copy.deepcopy(tree)
    if time_scale == 1:
        return tree
    s = time_scale
    for tier in tree["tiers"].values():
        tier["min_ttft_ms"] = tier["min_ttft_ms"] / s
        tier["queue_timeout_ms"] = tier["queue_timeout_ms"] / s
        if tier.get("ttft_target_ms") is not None:
            tier["ttft_target_ms"] = tier["ttft_target_ms"] / s
        else:  # its default, max(min_ttft_ms, 1000), is a duration too
            tier["ttft_target_ms"] = max(tier["min_ttft_ms"] * s, 1000.0) / s
        if tier.get("max_output_tokens_per_s") is not None:
            tier["max_output_tokens_per_s"] = tier["max_output_tokens_per_s"] * s
        tier["batch"] = scale_policy("batch", tier["batch"], s)
    sched = tree["scheduler"]
    sched["queue"] = scale_policy("queue", sched["queue"], s)
    sched["route"] = scale_policy("route", sched["route"], s)
    for model in tree.get("models", {}).values():
        for kind in ("queue", "route"):
            if model.get(kind) is not None:
                model[kind] = scale_policy(kind, model[kind], s)
    return tree


def prepare(
    config: GatewayConfig,
    *,
    name: str,
    source: str,
    time_scale: float = 1.0,
    presets: Mapping[str, str] | None = None,
    model: str | None = None,
) -> Scenario:
    """Rewrite ``config`` for ``compare`` (see the module doc); ValueError if it cannot run."""
    presets = presets or {}
    model = model or config.model_names()[0]
    if model not in config.model_names():
        raise ValueError(f"{source}: no backend serves model {model!r}")
    sims = []
    for b in config.backends:
        engine_models = tuple(dict.fromkeys(b.models.values()))
        preset = presets.get(b.name) or presets.get("*") or infer_preset(engine_models[0], b.gpus)
        if preset is None:
            raise ValueError(
                f"{source}: cannot tell which simulator plays backend {b.name!r} "
                f"({engine_models[0]} on {b.gpus} GPU(s)); "
                f"pass --sim-preset {b.name}=PRESET ({', '.join(PRESETS)})"
            )
        sims.append(SimBackend(b.name, preset, engine_models, b.gpus, b.gpu_hour_usd))
    tree = config.model_dump(mode="json")
    for backend in tree["backends"]:
        backend["url"] = PLACEHOLDER_URL
        backend["api_key"] = None
    tree["state"] = {"kind": "memory"}
    tree["server"]["access_log"] = False
    tree["keys"] = [
        {"key": tier_key(t), "tenant": f"compare-{t}", "tier": t} for t in config.tiers
    ] + [{"key": ADMIN_KEY, "admin": True}]
    tree = scale_tree(tree, time_scale)
    parse_config(tree, env={}, source=source)  # fail here, before anything starts
    return Scenario(
        name=name,
        source=source,
        tree=tree,
        sims=tuple(sims),
        model=model,
        tiers=tuple(config.tiers),
        prices={t: tier.prices.model_dump() for t, tier in config.tiers.items()},
        time_scale=time_scale,
    )


def scenario_names(paths: Sequence[Path]) -> list[str]:
    """Labels for the configs: file stems, made unique with a counter where two collide."""
    stems = [p.stem for p in paths]
    return [s if stems.count(s) == 1 else f"{s}-{i + 1}" for i, s in enumerate(stems)]
