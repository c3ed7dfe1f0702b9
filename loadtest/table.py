"""The summary as a table of text cells, shared by the terminal (rich) and the HTML report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

Row = tuple[str, str, Callable[[Any], str]]


def _num(digits: int) -> Callable[[Any], str]:
    return lambda v: "-" if v is None else f"{v:,.{digits}f}"


def _int(v: Any) -> str:
    return "-" if v is None else f"{int(v):,}"


def _usd(v: Any) -> str:
    return "-" if v is None else f"${v:,.4f}"


ROWS: tuple[Row, ...] = (
    ("Requests (measured)", "requests", _int),
    ("Completed", "completed", _int),
    ("Failed", "failed", _int),
    ("Request throughput (req/s)", "request_throughput", _num(2)),
    ("Request goodput (req/s)", "request_goodput", _num(2)),
    ("Output throughput (tok/s)", "output_throughput", _num(1)),
    ("Output throughput per GPU (tok/s)", "output_throughput_per_gpu", _num(1)),
    ("TTFT p50 (ms)", "p50_ttft_ms", _num(1)),
    ("TTFT p90 (ms)", "p90_ttft_ms", _num(1)),
    ("TTFT p99 (ms)", "p99_ttft_ms", _num(1)),
    ("TPOT mean (ms)", "mean_tpot_ms", _num(2)),
    ("TPOT p50 (ms)", "p50_tpot_ms", _num(2)),
    ("TPOT p99 (ms)", "p99_tpot_ms", _num(2)),
    ("ITL p50 (ms)", "p50_itl_ms", _num(2)),
    ("ITL p99 (ms)", "p99_itl_ms", _num(2)),
    ("E2E p50 (ms)", "p50_e2el_ms", _num(1)),
    ("E2E p99 (ms)", "p99_e2el_ms", _num(1)),
    ("Per-user speed p50 (tok/s)", "median_tok_s_per_user", _num(1)),
    ("Per-user speed p10 (tok/s)", "p10_tok_s_per_user", _num(1)),
    ("Gateway queue p50 (ms)", "p50_queue_ms", _num(1)),
    ("Gateway queue p99 (ms)", "p99_queue_ms", _num(1)),
    ("Schedule lag p50 (ms)", "p50_schedule_lag_ms", _num(2)),
    ("Schedule lag p99 (ms)", "p99_schedule_lag_ms", _num(2)),
    ("Schedule lag max (ms)", "max_schedule_lag_ms", _num(2)),
)
COST_ROWS: tuple[Row, ...] = (
    ("Charge (USD)", "charge_usd", _usd),
    ("Charge per 1M tokens", "charge_per_mtok_usd", _usd),
    ("GPU cost (USD)", "gpu_cost_usd", _usd),
    ("GPU cost per 1M tokens", "cost_per_mtok_usd", _usd),
)


def summary_cells(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Column headers (``Metric``, ``all``, tiers...) and one row of cells per metric."""
    groups: list[tuple[str, dict[str, Any]]] = [("all", summary["overall"])]
    if len(summary["tiers"]) > 1:
        groups += list(summary["tiers"].items())
    headers = ["Metric"] + [name for name, _ in groups]
    rows = [
        [label] + [fmt(g.get(key)) for _, g in groups]
        for label, key, fmt in ROWS
        if any(g.get(key) is not None for _, g in groups)
    ]
    if summary.get("cost"):
        costs = [summary["cost"]] + [(g.get("cost") or {}) for _, g in groups[1:]]
        rows += [[label] + [fmt(c.get(key)) for c in costs] for label, key, fmt in COST_ROWS]
    return headers, rows


def print_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    headers, rows = summary_cells(summary)
    run = summary["run"]
    origin = "intended send" if run["latency_origin"] == "intended_send" else "actual send"
    table = Table(
        title=f"{run['profile_description']} · {run['model']}",
        caption=f"latencies from the {origin}; warm-up excluded",
    )
    for i, h in enumerate(headers):
        table.add_column(h, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    errors = summary["overall"].get("errors") or {}
    if errors:
        console.print("errors: " + ", ".join(f"{k} x {v}" for k, v in errors.items()), style="red")
    for note in run.get("notes") or []:
        console.print(f"note: {note}", style="yellow")
