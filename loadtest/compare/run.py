"""Run one scenario: simulated GPUs, the gateway in-process, the seeded sweep, then tear down.

The workload is a ``RunConfig`` template in simulated time whose tiers are workload *classes*
(e.g. ``fast`` 25 %, ``economy`` 75 %); each class is sent with the key of the config's tier
of the same name, or of its first tier (``Scenario.tier_for``). So every config gets the very
same requests, and a one-tier config serves all classes alike.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from gateway.config.loader import parse_config
from gateway.config.schema import GatewayConfig
from gateway.server import start_gateway
from loadtest.compare.points import charges_usd, harness_notes, operating_point
from loadtest.compare.report import SCHEMA, write_compare
from loadtest.compare.scenario import (
    ADMIN_KEY,
    PLACEHOLDER_URL,
    Scenario,
    prepare,
    scenario_names,
    tier_key,
)
from loadtest.compare.table import print_table
from loadtest.config import SLO, RunConfig, Tier
from loadtest.execute import write_outputs
from loadtest.profiles import SweepProfile
from loadtest.progress import LiveStats, show_progress
from loadtest.result import RunResult
from loadtest.sim.server import SimServer
from loadtest.sweep import run_sweep


def wall_config(template: RunConfig, scenario: Scenario, base_url: str) -> RunConfig:
    """The template on the wall clock, aimed at this scenario's gateway with its keys.

    Rates * s; the sending window, warm-up and SLOs ÷ s (s = the time scale).
    """
    s = scenario.time_scale
    profile = template.profile
    assert isinstance(profile, SweepProfile)
    slo = template.slo
    if slo is not None:
        slo = SLO(**{k: (v / s if v is not None else None) for k, v in slo.model_dump().items()})
    tiers = [
        Tier(name=t.name, api_key=tier_key(scenario.tier_for(t.name)), share=t.share)
        for t in template.tiers
    ]
    return template.model_copy(
        update={
            "base_url": base_url,
            "model": scenario.model,
            "tiers": tiers,
            "profile": profile.model_copy(update={"loads": [x * s for x in profile.loads]}),
            "duration_s": None if template.duration_s is None else template.duration_s / s,
            "warmup_s": template.warmup_s / s,
            "drain_timeout_s": None
            if template.drain_timeout_s is None
            else template.drain_timeout_s / s,
            "slo": slo,
            "gpus": scenario.gpus,
            "admin_key": ADMIN_KEY,
            "admin_url": None,
        }
    )


async def run_scenario(
    scenario: Scenario,
    template: RunConfig,
    out_dir: Path,
    *,
    margin: float,
    report: bool = True,
    progress: bool = True,
    console: Console | None = None,
) -> list[dict[str, Any]]:
    """Run the sweep against ``scenario`` and return its operating points (overall and per class).

    Each step's files (summary.json, requests.jsonl/.csv, report.html; wall-clock times) land
    in ``out_dir/<config>/step-NN-<rate>/``.
    """
    console = console or Console()
    s = scenario.time_scale
    sims = [
        SimServer(b.preset, b.engine_models, time_scale=s, seed=i)
        for i, b in enumerate(scenario.sims)
    ]
    points: list[dict[str, Any]] = []
    rows_of_step: list[list[dict[str, Any]]] = []
    try:
        for sim in sims:
            await sim.start()
        config_for_sims = scenario.gateway_config([x.url for x in sims])
        gateway = await start_gateway(config_for_sims, "127.0.0.1", 0)
        try:
            config = wall_config(template, scenario, gateway.url)
            on_step = _step_writer(
                scenario, config, out_dir, margin=margin, report=report, rows_of_step=rows_of_step
            )
            live = LiveStats(label=scenario.name)
            bar = show_progress(live, console) if progress else contextlib.nullcontext()
            async with bar:
                sweep = await run_sweep(config, live=live, on_step=on_step)
        finally:
            await gateway.stop()
    finally:
        for sim in sims:
            await sim.stop()
    for step, rows in zip(sweep.steps, rows_of_step, strict=True):
        for row in rows:
            row["saturated"] = step["saturated"]
            row["dir"] = f"{scenario.name}/{step['dir']}"
        points += rows
    return points


def _step_writer(
    scenario: Scenario,
    config: RunConfig,
    out_dir: Path,
    *,
    margin: float,
    report: bool,
    rows_of_step: list[list[dict[str, Any]]],
) -> Callable[[int, RunResult, dict[str, Any]], str]:
    s = scenario.time_scale

    def on_step(i: int, result: RunResult, summary: dict[str, Any]) -> str:
        load = result.profile.load / s
        name = f"step-{i + 1:02d}-{load:g}"
        write_outputs(out_dir / scenario.name / name, result, report=report)
        charged = charges_usd(result.records, scenario.tier_for, scenario.prices)
        common = {"config": scenario.name, "load": load, "time_scale": s, "gpus": scenario.gpus,
                  "margin": margin}  # fmt: skip
        overall = operating_point(
            summary["overall"],
            tier="all",
            fleet_usd_per_hour=scenario.fleet_usd_per_hour,
            charge_usd=charged.get("all"),
            gateway_cost=summary.get("cost"),
            **common,
        )
        rows = [overall]
        if len(config.tiers) > 1:
            rows += [
                operating_point(
                    group,
                    tier=cls,
                    fleet_usd_per_hour=None,
                    cost_per_mtok_out=overall["cost_per_mtok_out_usd"],
                    fleet_tok_s_per_gpu=overall["output_tok_s_per_gpu"],
                    charge_usd=charged.get(cls, 0.0),
                    gateway_cost=group.get("cost"),
                    **common,
                )
                for cls, group in summary["tiers"].items()
            ]
        for row in rows:
            row["served_by"] = scenario.tier_for(row["tier"]) if row["tier"] != "all" else None
        rows_of_step.append(rows)
        return name

    return on_step


async def run_compare(
    paths: Sequence[Path],
    template: RunConfig,
    out_dir: Path,
    *,
    time_scale: float = 1.0,
    presets: Mapping[str, str] | None = None,
    model: str | None = None,
    margin: float = 0.3,
    report: bool = True,
    progress: bool = True,
    command: str = "",
    console: Console | None = None,
) -> dict[str, Any]:
    """Run ``template`` (simulated time) against each config in turn and write the comparison.

    Returns compare.json's content. Configs are checked before anything starts.
    """
    console = console or Console()
    scenarios = [
        prepare(load_for_compare(path), name=name, source=str(path),
                time_scale=time_scale, presets=presets, model=model)
        for path, name in zip(paths, scenario_names(paths), strict=True)
    ]  # fmt: skip
    points: list[dict[str, Any]] = []
    for scenario in scenarios:
        sims = ", ".join(f"{b.name}={b.preset}" for b in scenario.sims)
        console.print(f"[bold]{scenario.name}[/]: {scenario.gpus} GPUs ({sims})")
        points += await run_scenario(
            scenario, template, out_dir, margin=margin, report=report, progress=progress,
            console=console,
        )  # fmt: skip
    doc = compare_doc(scenarios, template, points, margin=margin, command=command)
    write_compare(out_dir, doc)
    print_table(points, margin, f"clock: {doc['clock']}; ⚑ saturated", console)
    for note in doc["notes"]:
        console.print(f"note: {note}", style="yellow")
    console.print(f"results in {out_dir}/ (compare.md, compare.json, compare.html, frontier.png)")
    return doc


def compare_doc(
    scenarios: Sequence[Scenario],
    template: RunConfig,
    points: list[dict[str, Any]],
    *,
    margin: float,
    command: str = "",
) -> dict[str, Any]:
    """compare.json: the scenario, the clock, and every operating point."""
    s = scenarios[0].time_scale if scenarios else 1.0
    clock = "simulated GPU time" if s != 1 else "wall clock = simulated GPU time"
    return {
        "schema": SCHEMA,
        "command": command,
        "workload": describe_workload(template),
        "time_scale": s,
        "clock": clock,
        "margin": margin,
        "seed": template.seed,
        "configs": [
            {
                "name": sc.name,
                "source": sc.source,
                "gpus": sc.gpus,
                "fleet_usd_per_hour": sc.fleet_usd_per_hour,
                "model": sc.model,
                "tiers": list(sc.tiers),
                "prices": {t: dict(p) for t, p in sc.prices.items()},
                "sims": [{"backend": b.name, "preset": b.preset} for b in sc.sims],
            }
            for sc in scenarios
        ],
        "points": points,
        "notes": harness_notes(points),
    }


def describe_workload(template: RunConfig) -> str:
    """One line: arrivals, loads, lengths, window, classes and seed (simulated time)."""
    profile = template.profile
    assert isinstance(profile, SweepProfile)
    window = []
    if template.duration_s is not None:
        window.append(f"{template.duration_s:g} s")
    if template.requests is not None:
        window.append(f"{template.requests} requests")
    if template.warmup_s:
        window.append(f"after {template.warmup_s:g} s warm-up")
    lengths = (
        f"dataset {template.dataset.name}"
        if template.dataset
        else f"prompt {_length_text(template.prompt_tokens)} tokens, "
        f"output {_length_text(template.output_tokens)} tokens"
    )
    classes = ", ".join(f"{t.name} {t.share:.0%}" for t in template.tiers)
    return (
        f"{profile.arrival} arrivals at {', '.join(f'{x:g}' for x in profile.loads)} req/s, "
        f"{' '.join(window)} per load; {lengths}; classes {classes}; seed {template.seed}"
    )


def load_for_compare(path: Path) -> GatewayConfig:
    """Read a gateway config, leaving out what compare replaces before it is validated.

    Backend URLs and engine keys, client keys and the state store are compare's own, so an
    unset ``${VAR}`` in them (``${ENGINE_A}``, ``${ACME_KEY}``) does not stop the comparison.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    if isinstance(data, dict):
        for backend in data.get("backends") or []:
            if isinstance(backend, dict):
                backend["url"] = PLACEHOLDER_URL
                backend.pop("api_key", None)
        data["keys"] = []
        data.pop("state", None)
    return parse_config(data, source=str(path))


def _length_text(dist: Any) -> str:
    """``256`` or ``uniform 100/300``: the distribution as the command line spells it."""
    params = dist.model_dump(exclude={"kind", "min", "max"})
    if dist.kind == "fixed":
        return f"{dist.value}"
    return f"{dist.kind} " + "/".join(f"{v:g}" for v in params.values())
