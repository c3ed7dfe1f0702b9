"""The report's figures as PNG bytes: latency distributions per tier, the run's timeline, a sweep.

matplotlib (Agg) is imported inside the functions, so importing this module, or the CLI,
does not pay for it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

_COLORS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def distribution_png(title: str, unit: str, per_tier: Mapping[str, Sequence[float]]) -> bytes:
    """Histogram (to the 99.5th percentile, so one straggler does not squash it) and CDF."""
    plt = _pyplot()
    fig, (hist, cdf) = plt.subplots(1, 2, figsize=(11, 3.8))
    series = {k: np.asarray(v, dtype=float) for k, v in per_tier.items() if len(v)}
    if not series:
        for ax in (hist, cdf):
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    else:
        everything = np.concatenate(list(series.values()))
        lo, hi = (float(x) for x in np.percentile(everything, (0, 99.5)))
        pad = (hi - lo) * 0.02 or max(abs(hi) * 0.05, 1e-3)
        bins = np.linspace(max(0.0, lo - pad), hi + pad, 60)
        for i, (name, values) in enumerate(series.items()):
            color = _COLORS[i % len(_COLORS)]
            label = f"{name} (n={values.size:,})"
            hist.hist(
                np.clip(values, bins[0], bins[-1]),
                bins=bins,
                histtype="step",
                density=True,
                linewidth=1.6,
                color=color,
                label=label,
            )
            ordered = np.sort(values)
            cdf.plot(
                ordered,
                np.arange(1, ordered.size + 1) / ordered.size,
                color=color,
                linewidth=1.6,
                label=label,
            )
        positive = everything[everything > 0]
        if positive.size and everything.max() / positive.min() > 50:
            cdf.set_xscale("log")  # heavy tails span decades
        hist.legend(fontsize=8)
        for p in (0.5, 0.9, 0.99):
            cdf.axhline(p, color="#9ca3af", linewidth=0.6, linestyle=":")
    hist.set(title=f"{title}: histogram", xlabel=unit, ylabel="density")
    cdf.set(title=f"{title}: CDF", xlabel=unit, ylabel="fraction ≤ x", ylim=(0, 1.01))
    for ax in (hist, cdf):
        ax.grid(alpha=0.3)
    return _png(fig)


def timeline_png(timeline: Mapping[str, Sequence[float]], warmup_s: float) -> bytes:
    """Intended vs actual sending rate vs achieved rate, requests in flight, errors."""
    plt = _pyplot()
    fig, (rates, flight, errors) = plt.subplots(3, 1, figsize=(11, 7.5), sharex=True)
    t = np.asarray(timeline["t_s"], dtype=float)
    width = float(timeline["width_s"][0]) if len(timeline["width_s"]) else 1.0
    mid = t + width / 2
    rates.plot(mid, timeline["intended_per_s"], color="#9ca3af", linestyle="--", label="intended")
    rates.plot(mid, timeline["sent_per_s"], color=_COLORS[0], label="sent")
    rates.plot(mid, timeline["completed_per_s"], color=_COLORS[2], label="completed (achieved)")
    rates.set(ylabel="requests/s", title=f"Timeline ({width:g} s bins)")
    rates.legend(fontsize=8)
    flight.plot(t + width, timeline["in_flight"], color=_COLORS[3])
    flight.set(ylabel="in flight")
    errors.bar(mid, timeline["errors_per_s"], width=width * 0.9, color=_COLORS[1])
    errors.set(ylabel="errors/s", xlabel="seconds since start")
    for ax in (rates, flight, errors):
        ax.grid(alpha=0.3)
        if warmup_s > 0:
            ax.axvspan(0, warmup_s, color="#fde68a", alpha=0.35, linewidth=0)
    if warmup_s > 0:
        rates.text(
            warmup_s / 2,
            1.0,
            "warm-up",
            ha="center",
            va="top",
            fontsize=8,
            transform=rates.get_xaxis_transform(),
        )
    return _png(fig)


def sweep_png(steps: Sequence[Mapping[str, Any]], load_unit: str) -> bytes:
    """Achieved throughput and p50/p99 TTFT against offered load, one point per step."""
    plt = _pyplot()
    fig, (tput, ttft) = plt.subplots(1, 2, figsize=(11, 3.8))
    load = [s["load"] for s in steps]
    tput.plot(
        load,
        [s["request_throughput"] or 0 for s in steps],
        "o-",
        color=_COLORS[0],
        label="achieved",
    )
    if load_unit == "req/s":
        tput.plot(load, load, linestyle="--", color="#9ca3af", label="offered")
    tput.set(xlabel=f"load ({load_unit})", ylabel="requests/s", title="Throughput")
    tput.legend(fontsize=8)
    for key, style in (("p50_ttft_ms", "o-"), ("p99_ttft_ms", "s--")):
        ttft.plot(load, [s.get(key) or np.nan for s in steps], style, label=key)
    ttft.set(xlabel=f"load ({load_unit})", ylabel="ms", title="TTFT")
    ttft.set_yscale("log")
    ttft.legend(fontsize=8)
    for s in steps:
        if s.get("saturated"):
            for ax in (tput, ttft):
                ax.axvline(s["load"], color=_COLORS[1], linestyle=":", linewidth=1)
    for ax in (tput, ttft):
        ax.grid(alpha=0.3)
    return _png(fig)


def frontier_png(points: Sequence[Mapping[str, Any]], clock: str) -> bytes:
    """The tokenomics frontier: cost per 1M output tokens against p50 TTFT, and output tok/s per
    GPU against tok/s per user. One solid curve per config over its loads (overall); a config
    serving several workload classes adds a dashed curve per class (the fleet's cost per token
    and throughput per GPU, its own latency and speed). Saturated steps are drawn hollow."""
    plt = _pyplot()
    fig, (cost_ax, speed_ax) = plt.subplots(1, 2, figsize=(12, 4.6))
    configs = list(dict.fromkeys(p["config"] for p in points))
    dashes = ("--", ":", "-.")
    for i, config in enumerate(configs):
        color = _COLORS[i % len(_COLORS)]
        mine = [p for p in points if p["config"] == config]
        classes = list(dict.fromkeys(p["tier"] for p in mine if p["tier"] != "all"))
        for j, tier in enumerate(["all", *classes]):
            curve = sorted((p for p in mine if p["tier"] == tier), key=lambda p: p["offered_rate"])
            style = "-" if tier == "all" else dashes[(j - 1) % len(dashes)]
            label = config if tier == "all" else f"{config} · {tier}"
            marker = "o" if tier == "all" else "^"
            for ax, x_key, y_key in (
                (cost_ax, "p50_ttft_ms", "cost_per_mtok_out_usd"),
                (speed_ax, "tok_s_per_user", "output_tok_s_per_gpu"),
            ):
                xs = [p.get(x_key) or np.nan for p in curve]
                ys = [p.get(y_key) or np.nan for p in curve]
                ax.plot(xs, ys, style, color=color, linewidth=1.6 if tier == "all" else 1.1,
                        label=label, alpha=1.0 if tier == "all" else 0.8)  # fmt: skip
                for p, x, y in zip(curve, xs, ys, strict=True):
                    ax.plot([x], [y], marker, color=color, markersize=6,
                            markerfacecolor="white" if p.get("saturated") else color)  # fmt: skip
                    if tier == "all":
                        ax.annotate(f"{p['offered_rate']:g}/s", (x, y), textcoords="offset points",
                                    xytext=(4, 4), fontsize=7, color=color)  # fmt: skip
    cost_ax.set(xlabel=f"p50 TTFT (ms, {clock})", ylabel="USD per 1M output tokens",
                title="Cost per 1M output tokens vs TTFT")  # fmt: skip
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    cost_ax.set_xscale("log")
    cost_ax.set_yscale("log")
    for axis, fmt in ((cost_ax.xaxis, "{:g}"), (cost_ax.yaxis, "${:g}")):
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _, f=fmt: f.format(float(f"{v:.3g}"))))
        axis.set_minor_formatter(NullFormatter())
    speed_ax.set(xlabel=f"tokens/s per user (p50, {clock})", ylabel="output tokens/s per GPU",
                 title="Throughput per GPU vs speed per user")  # fmt: skip
    for ax in (cost_ax, speed_ax):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    return _png(fig)
