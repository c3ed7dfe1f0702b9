"""The compare table as text cells, shared by the terminal (rich), ``compare.md`` and the HTML."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table


def _num(digits: int) -> Callable[[Any], str]:
    return lambda v: "-" if v is None else f"{v:,.{digits}f}"


def _usd(v: Any) -> str:
    return "-" if v is None else f"${v:,.3f}"


def _pct(v: Any) -> str:
    return "-" if v is None else f"{v:.0%}"


Column = tuple[str, Callable[[Mapping[str, Any]], str]]
# The terminal shows these (short names); break-even is the cost per 1M output tokens by definition.
TERMINAL = {
    "Config": "config",
    "Load (req/s)": "req/s",
    "Class → tier": "class → tier",
    "p50 TTFT (ms)": "TTFT p50",
    "p99 TTFT (ms)": "TTFT p99",
    "tok/s/user": "tok/s/user",
    "tok/s/GPU": "tok/s/GPU",
    "Break-even /1M out": "break-even",
    "Price @": "@margin",
    "Charged /1M out": "charged",
    "Margin at config prices": "margin",
}


def _load(p: Mapping[str, Any]) -> str:
    return f"{p['offered_rate']:g}" + (" ⚑" if p.get("saturated") else "")


def _class(p: Mapping[str, Any]) -> str:
    return "all" if p["tier"] == "all" else f"{p['tier']} → {p['served_by']}"


def _done(p: Mapping[str, Any]) -> str:
    return f"{p['completed']}" + (f" ({p['failed']} failed)" if p["failed"] else "")


def columns(margin: float) -> list[Column]:
    return [
        ("Config", lambda p: str(p["config"])),
        ("Load (req/s)", _load),
        ("Class → tier", _class),
        ("Done", _done),
        ("p50 TTFT (ms)", lambda p: _num(0)(p["p50_ttft_ms"])),
        ("p99 TTFT (ms)", lambda p: _num(0)(p["p99_ttft_ms"])),
        ("tok/s/user", lambda p: _num(1)(p["tok_s_per_user"])),
        ("tok/s/GPU", lambda p: _num(1)(p["output_tok_s_per_gpu"])),
        ("Cost /1M out", lambda p: _usd(p["cost_per_mtok_out_usd"])),
        ("Break-even /1M out", lambda p: _usd(p["break_even_usd"])),
        (f"Price @ {margin:.0%} margin", lambda p: _usd(p["price_at_margin_usd"])),
        ("Charged /1M out", lambda p: _usd(p["charge_per_mtok_out_usd"])),
        ("Margin at config prices", lambda p: _pct(p["margin_at_config_prices"])),
    ]  # fmt: skip


def cells(points: Sequence[Mapping[str, Any]], margin: float) -> tuple[list[str], list[list[str]]]:
    cols = columns(margin)
    return [h for h, _ in cols], [[fmt(p) for _, fmt in cols] for p in points]


def markdown_table(points: Sequence[Mapping[str, Any]], margin: float) -> str:
    headers, rows = cells(points, margin)
    right = "|".join(":---" if i < 3 else "---:" for i in range(len(headers)))
    lines = ["| " + " | ".join(headers) + " |", f"|{right}|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def print_table(
    points: Sequence[Mapping[str, Any]], margin: float, caption: str, console: Console
) -> None:
    headers, rows = cells(points, margin)
    keep = [i for i, h in enumerate(headers) if _short(h) is not None]
    table = Table(title="tokenomics frontier (USD per 1M output tokens)", caption=caption)
    for n, i in enumerate(keep):
        table.add_column(_short(headers[i]), justify="left" if n < 3 else "right")
    previous = None
    for p, row in zip(points, rows, strict=True):
        if previous is not None and p["config"] != previous:
            table.add_section()
        previous = p["config"]
        style = None if p["tier"] == "all" else "dim"
        table.add_row(*(row[i] for i in keep), style=style)
    console.print(table)


def _short(header: str) -> str | None:
    for long, short in TERMINAL.items():
        if header.startswith(long):
            return short
    return None
