"""The self-contained HTML report: summary tables, facts of the run, and plots as base64 PNGs.

The page fetches nothing (no scripts, fonts or stylesheets from elsewhere), so it opens
offline and can be mailed around; the same PNGs are written beside it.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from loadtest.record import RequestRecord
from loadtest.report.plots import distribution_png, sweep_png, timeline_png
from loadtest.table import summary_cells


def write_run_report(
    out_dir: Path, summary: Mapping[str, Any], records: Sequence[RequestRecord]
) -> Path:
    """Write the PNGs and ``report.html`` for one run; return the page's path."""
    measured = [r for r in records if not r.warmup and r.ok]
    tiers = list(summary["tiers"])
    ttft = {t: [v for r in measured if r.tier == t and (v := r.ttft_ms) is not None] for t in tiers}
    itl = {t: [g * 1000.0 for r in measured if r.tier == t for g in r.itl_s] for t in tiers}
    e2e = {t: [r.e2e_ms for r in measured if r.tier == t] for t in tiers}
    origin = _origin(summary)
    figures = [
        ("ttft.png", "Time to first token", f"TTFT per tier, from the {origin}.",
         distribution_png("TTFT", "ms", ttft)),
        ("itl.png", "Inter-token latency", "Every gap between streamed chunks, per tier.",
         distribution_png("ITL", "ms", itl)),
        ("e2e.png", "End-to-end latency", f"Per tier, from the {origin}.",
         distribution_png("E2E latency", "ms", e2e)),
        ("timeline.png", "Timeline",
         "Intended and actual sending rate, achieved (completion) rate, requests in flight and "
         "errors; the shaded band is the warm-up.",
         timeline_png(summary["timeline"], float(summary["run"]["warmup_s"]))),
    ]  # fmt: skip
    body = [section("Summary", _summary_table(summary)), section("Run", _facts(summary))]
    body.append(_errors(summary["overall"].get("errors") or {}))
    body += [figure(out_dir, *f) for f in figures]
    title = f"Load test: {summary['run']['profile_description']}"
    return write_page(out_dir, title, _subtitle(summary), "\n".join(body))


def write_sweep_report(out_dir: Path, sweep: Mapping[str, Any]) -> Path:
    """``report.html`` for a sweep: throughput and TTFT against load, and one row per step."""
    steps = sweep["steps"]
    unit = sweep["load_unit"]
    headers = ["Load", "req/s", "goodput", "tok/s", "p50 TTFT", "p99 TTFT", "p50 TPOT", "errors",
               "report"]  # fmt: skip
    rows = []
    for s in steps:
        link = f'<a href="{html.escape(s["dir"])}/report.html">{html.escape(s["dir"])}</a>'
        cells = [f"{s['load']:g} {unit}", _f(s["request_throughput"], 2),
                 _f(s.get("request_goodput"), 2), _f(s["output_throughput"], 1),
                 _f(s["p50_ttft_ms"], 1), _f(s["p99_ttft_ms"], 1), _f(s["p50_tpot_ms"], 2),
                 f"{s['error_rate']:.1%}"]  # fmt: skip
        mark = " ⚑" if s.get("saturated") else ""
        rows.append(
            "<tr>"
            + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
            + f"<td>{link}{mark}</td></tr>"
        )
    steps_table = table(headers, rows)
    sat = sweep.get("saturation") or {}
    verdict = (
        f"Saturated at {sat['load']:g} {unit}: {html.escape(sat['reason'])}. "
        f"Highest load before it: {_f(sat.get('last_good_load'), 2)} {unit}; "
        f"peak throughput {_f(sat.get('max_request_throughput'), 2)} req/s."
        if sat.get("load") is not None
        else "Did not saturate within the loads swept."
    )
    body = [
        section("Verdict", f"<p>{verdict}</p><p class=note>{html.escape(sweep['rule'])}</p>"),
        section("Steps", steps_table),
        figure(
            out_dir,
            "sweep.png",
            "Throughput and TTFT against load",
            "One point per step; the dotted line marks saturation.",
            sweep_png(steps, unit),
        ),
    ]
    return write_page(
        out_dir, f"Load sweep: {sweep['description']}", sweep["model"], "\n".join(body)
    )


def write_page(
    out_dir: Path, title: str, subtitle: str, body: str, filename: str = "report.html"
) -> Path:
    """A self-contained page from the shared template and style (``compare`` uses it too)."""
    pkg = resources.files("loadtest.report")
    template = Template(pkg.joinpath("template.html").read_text(encoding="utf-8"))
    page = template.substitute(
        title=html.escape(title),
        subtitle=html.escape(subtitle),
        style=pkg.joinpath("style.css").read_text(encoding="utf-8"),
        body=body,
    )
    path = out_dir / filename
    path.write_text(page, encoding="utf-8")
    return path


def figure(out_dir: Path, name: str, heading: str, caption: str, png: bytes) -> str:
    (out_dir / name).write_bytes(png)
    data = base64.b64encode(png).decode("ascii")
    return section(
        heading,
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(heading)}">'
        f"<figcaption>{html.escape(caption)} (also <code>{html.escape(name)}</code>)</figcaption>"
        "</figure>",
    )


def _summary_table(summary: Mapping[str, Any]) -> str:
    headers, rows = summary_cells(dict(summary))
    body = ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows]
    return table(headers, body)


def table(headers: Sequence[str], rows: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _facts(summary: Mapping[str, Any]) -> str:
    run = summary["run"]
    o = summary["overall"]
    streaming = "streaming" if run["stream"] else "not streaming"
    facts = {
        "Target": f"{run['base_url']} ({run['endpoint']}, {streaming})",
        "Model": run["model"],
        "Profile": run["profile_description"],
        "Tiers (share)": ", ".join(f"{k} {v:g}" for k, v in run["tiers"].items()),
        "Seed": str(run["seed"]),
        "Measured window": (
            f"{run['measured_duration_s']:.2f} s after {run['warmup_s']:g} s warm-up "
            f"({o['warmup_requests']} warm-up requests left out)"
        ),
        "Latency measured from": _origin(summary),
        "Sending rate": f"{_f(o.get('sent_rate'), 2)} req/s sent, "
        f"{_f(o.get('intended_rate'), 2)} req/s scheduled"
        + (f" (profile: {o['offered_rate']:g})" if o.get("offered_rate") else ""),
        "GPUs": f"{run['gpus']} (from {run['gpus_source']})" if run["gpus"] else "unknown",
        "SLO": ", ".join(f"{k} ≤ {v:g}" for k, v in (run["slo"] or {}).items() if v is not None)
        or "none",
    }
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in facts.items())
    notes = "".join(f"<p class=note>{html.escape(n)}</p>" for n in run.get("notes") or [])
    return f'<dl class="facts">{items}</dl>{notes}'


def _errors(errors: Mapping[str, int]) -> str:
    if not errors:
        return ""
    rows = [f"<tr><td>{html.escape(k)}</td><td>{v:,}</td></tr>" for k, v in errors.items()]
    return section("Errors", f'<div class="errors">{table(["Kind", "Count"], rows)}</div>')


def section(heading: str, content: str) -> str:
    return f"<section><h2>{html.escape(heading)}</h2>{content}</section>"


def _origin(summary: Mapping[str, Any]) -> str:
    if summary["run"]["latency_origin"] == "intended_send":
        return "intended send time (open loop: no coordinated omission)"
    return "actual send time (closed loop)"


def _subtitle(summary: Mapping[str, Any]) -> str:
    run = summary["run"]
    return f"{run['model']} at {run['base_url']}"


def _f(v: float | None, digits: int) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"
