"""What ``compare`` leaves behind: compare.json, compare.md, compare.html and frontier.png."""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loadtest.compare.table import cells, markdown_table
from loadtest.outputs import write_json
from loadtest.report.html import figure, section, table, write_page
from loadtest.report.plots import frontier_png

SCHEMA = "tokengate.compare/1"

DEFINITIONS = {
    "clock": "simulated GPU time: wall-clock times * time scale, rates ÷ time scale; at scale 1 "
    "the two are the same. Per-step files under <config>/step-*/ are in wall-clock time.",
    "cost_per_mtok_out_usd": "fleet cost over the measured window (Σ gpus · gpu_hour_usd, busy "
    "or idle) ÷ output tokens * 1e6; prompt tokens carry no cost of their own",
    "break_even_usd": "output price per 1M tokens at which charge = GPU cost (= cost per 1M out)",
    "price_at_margin_usd": "break-even ÷ (1 - margin); margin = (price - cost) / price",
    "charge_per_mtok_out_usd": "what the config's tier prices charged (input and output) ÷ "
    "output tokens * 1e6",
    "margin_at_config_prices": "(charged - cost) / charged, per 1M output tokens",
    "tok_s_per_user": "median over requests of 1 / TPOT",
    "output_tok_s_per_gpu": "output tokens/s over the measured window ÷ GPUs in the config",
    "class rows": "a workload class on a shared fleet: every output token costs the fleet "
    "average, so its cost and break-even equal the config's; its latency and charge are its own",
    "saturated": "the sweep's saturation rule fired at this load (⚑); the sweep stops there",
}


def write_compare(out_dir: Path, doc: Mapping[str, Any]) -> dict[str, Path]:
    """Write every file of a comparison; ``doc`` is compare.json's content."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "compare.json", doc)
    (out_dir / "compare.md").write_text(markdown(doc), encoding="utf-8")
    png = frontier_png(doc["points"], doc["clock"])
    page = _page(out_dir, doc, png)
    return {
        "json": out_dir / "compare.json",
        "md": out_dir / "compare.md",
        "html": page,
        "png": out_dir / "frontier.png",
    }


def markdown(doc: Mapping[str, Any]) -> str:
    margin = doc["margin"]
    lines = [
        "# Tokenomics frontier",
        "",
        f"`{doc['command']}`" if doc.get("command") else "",
        "",
        f"Workload: {doc['workload']}.",
        f"Clock: {doc['clock']} (time scale {doc['time_scale']:g}).",
        "",
        "| Config | GPUs | Fleet USD/h | Simulators | Tiers (USD per 1M in / out) |",
        "|:---|---:|---:|:---|:---|",
    ]
    for c in doc["configs"]:
        sims = ", ".join(f"{s['backend']}={s['preset']}" for s in c["sims"])
        tiers = ", ".join(f"{t}: {p['input']:g} / {p['output']:g}" for t, p in c["prices"].items())
        lines.append(
            f"| {c['name']} | {c['gpus']} | {c['fleet_usd_per_hour']:g} | {sims} | {tiers} |"
        )
    lines += ["", markdown_table(doc["points"], margin), "", "Definitions:", ""]
    lines += [f"- **{k}**: {v}" for k, v in DEFINITIONS.items()]
    lines += [f"- note: {n}" for n in doc.get("notes") or []]
    return "\n".join(lines) + "\n"


def _page(out_dir: Path, doc: Mapping[str, Any], png: bytes) -> Path:
    headers, rows = cells(doc["points"], doc["margin"])
    body_rows = [
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    ]
    configs = "".join(
        f"<li><b>{html.escape(c['name'])}</b> ({html.escape(c['source'])}): {c['gpus']} GPUs, "
        f"{c['fleet_usd_per_hour']:g} USD/h; "
        + html.escape(", ".join(f"{s['backend']}={s['preset']}" for s in c["sims"]))
        + "</li>"
        for c in doc["configs"]
    )
    defs = "".join(
        f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in DEFINITIONS.items()
    )
    notes = "".join(f"<p class=note>{html.escape(n)}</p>" for n in doc.get("notes") or [])
    body = [
        section(
            "Scenario",
            f"<p>{html.escape(doc['workload'])}. Clock: {html.escape(doc['clock'])} "
            f"(time scale {doc['time_scale']:g}).</p><ul>{configs}</ul>{notes}",
        ),
        figure(
            out_dir,
            "frontier.png",
            "Frontier",
            "Left: fleet cost per 1M output tokens against p50 TTFT. Right: output tokens/s per "
            "GPU against tokens/s per user. Labels are offered loads; hollow points saturated.",
            png,
        ),
        section("Operating points", table(headers, body_rows)),
        section("Definitions", f'<dl class="facts">{defs}</dl>'),
    ]
    return write_page(out_dir, "Tokenomics frontier", doc["workload"], "\n".join(body),
                      filename="compare.html")  # fmt: skip
