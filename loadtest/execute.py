"""A configuration end to end: run (one load or a sweep), summarise, write files, show a table.

This is what ``tokengate loadtest`` does after parsing; code that wants the same files from
its own configuration calls ``run_and_write`` (or ``write_outputs`` on a ``RunResult``).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from rich.console import Console

from loadtest.config import RunConfig
from loadtest.outputs import write_json, write_run_files
from loadtest.profiles import SweepProfile
from loadtest.progress import LiveStats, show_progress
from loadtest.result import RunResult
from loadtest.runner import run_load
from loadtest.summary import summarize
from loadtest.table import print_summary


def write_outputs(out_dir: Path, result: RunResult, *, report: bool = True) -> dict[str, Any]:
    """summary.json, requests.jsonl, requests.csv and (with ``report``) report.html + PNGs."""
    summary = summarize(result)
    write_run_files(out_dir, result.records, summary)
    if report:
        from loadtest.report.html import write_run_report

        write_run_report(out_dir, summary, result.records)
    return summary


async def run_and_write(
    config: RunConfig,
    out_dir: Path,
    *,
    report: bool = True,
    progress: bool = True,
    console: Console | None = None,
) -> int:
    """Run ``config`` and write everything under ``out_dir``; 0, or 1 when nothing succeeded."""
    console = console or Console()
    live = LiveStats(label=_label(config))
    bar = show_progress(live, console) if progress else contextlib.nullcontext()
    if isinstance(config.profile, SweepProfile):
        return await _sweep(config, out_dir, live, bar, report=report, console=console)
    async with bar:
        result = await run_load(config, live=live)
    summary = write_outputs(out_dir, result, report=report)
    print_summary(summary, console)
    console.print(
        f"results in {out_dir}/ (summary.json, requests.jsonl, requests.csv"
        + (", report.html)" if report else ")")
    )
    return 0 if summary["overall"]["completed"] else 1


async def _sweep(
    config: RunConfig, out_dir: Path, live: LiveStats, bar: Any, *, report: bool, console: Console
) -> int:
    from loadtest.sweep import run_sweep

    def on_step(i: int, result: RunResult, summary: dict[str, Any]) -> str:
        name = f"step-{i + 1:02d}-{result.profile.load:g}"
        write_outputs(out_dir / name, result, report=report)
        o = summary["overall"]
        console.print(
            f"{result.profile.describe()}: {_f(o['request_throughput'])} req/s, "
            f"p99 TTFT {_f(o.get('p99_ttft_ms'))} ms, {o['failed']} failed"
        )
        return name

    async with bar:
        sweep = await run_sweep(config, live=live, on_step=on_step)
    doc = sweep.as_json()
    write_json(out_dir / "summary.json", doc)
    if report:
        from loadtest.report.html import write_sweep_report

        write_sweep_report(out_dir, doc)
    sat = doc["saturation"]
    if sat:
        console.print(f"saturated at {sat['load']:g} {doc['load_unit']}: {sat['reason']}")
    else:
        console.print("no saturation within the loads swept")
    console.print(f"results in {out_dir}/")
    return 0 if any(s["request_throughput"] for s in doc["steps"]) else 1


def _label(config: RunConfig) -> str:
    return config.profile.describe()


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"
