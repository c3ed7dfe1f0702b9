"""``tokengate loadtest``: parse the command line into a ``RunConfig``, run it, write the results.

Heavy imports (aiohttp, numpy, matplotlib) wait until the command actually runs, so
``tokengate --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loadtest.config import RunConfig

EPILOG = """\
examples:
  tokengate loadtest --base-url http://localhost:8080 --api-key sk-demo --model M \\
      --profile poisson --rate 10 --duration 30s --out results/
  tokengate loadtest ... --api-key fast=sk-demo-fast:0.2 --api-key economy=sk-demo-economy:0.8
  tokengate loadtest ... --profile concurrency --concurrency 64 --requests 2000
  tokengate loadtest ... --profile sweep --sweep-rates 5,10,20,40,80 --duration 20s

Latency is measured from each request's intended send time in open-loop profiles (no
coordinated omission) and from the actual send in the closed-loop concurrency profile.
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "loadtest",
        help="load-test an OpenAI-compatible URL (the gateway or an engine)",
        description="Send a seeded workload to an OpenAI-compatible server and measure it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = p.add_argument_group("target")
    target.add_argument(
        "--base-url", required=True, help="e.g. http://localhost:8080 (/v1 optional)"
    )
    target.add_argument("--model", required=True)
    target.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="[TIER=]KEY[:SHARE]",
        help="repeat for a tier mix; shares are normalised (default $OPENAI_API_KEY)",
    )
    target.add_argument("--endpoint", choices=("chat", "completions"), default="chat")
    target.add_argument("--admin-key", help="gateway admin key: GPU count and cost from /admin/*")
    target.add_argument("--admin-url", help="where /admin/* lives (default: the base URL)")
    target.add_argument("--gpus", type=int, help="GPUs behind the target, for per-GPU throughput")

    load = p.add_argument_group("load")
    load.add_argument(
        "--profile",
        default="poisson",
        choices=("constant", "poisson", "gamma", "concurrency", "sweep"),
    )
    load.add_argument("--rate", type=float, help="requests/s (constant, poisson, gamma)")
    load.add_argument(
        "--cv",
        type=float,
        default=2.0,
        help="gamma: coefficient of variation of the gaps (1 = Poisson; >1 bursty)",
    )
    load.add_argument("--concurrency", type=int, help="users of the closed-loop profile")
    load.add_argument("--max-concurrency", type=int, help="cap on requests in flight (open loop)")
    load.add_argument("--sweep-rates", help="sweep: comma-separated rates, e.g. 5,10,20")
    load.add_argument("--sweep-concurrency", help="sweep: comma-separated user counts")
    load.add_argument(
        "--sweep-arrival", choices=("constant", "poisson", "gamma"), default="poisson"
    )
    load.add_argument("--min-gain", type=float, default=0.25, help="sweep saturation rule")
    load.add_argument("--max-error-rate", type=float, default=0.05, help="sweep saturation rule")
    load.add_argument("--latency-factor", type=float, default=10.0, help="sweep saturation rule")
    load.add_argument("--duration", help="sending window after warm-up: 30s, 2m, ...")
    load.add_argument(
        "--requests", type=int, help="measured requests (with or instead of --duration)"
    )
    load.add_argument("--warmup", default="0s", help="sent first, left out of the stats (e.g. 5s)")
    load.add_argument("--seed", type=int, default=0)

    work = p.add_argument_group("workload")
    work.add_argument(
        "--prompt-tokens",
        default="256",
        help="N | uniform:LO:HI | normal:MEAN:STD | lognormal:MEAN:SIGMA",
    )
    work.add_argument("--output-tokens", default=None, help="same forms (default 128)")
    work.add_argument("--dataset", type=Path, help="ShareGPT JSON or JSONL of prompts")
    work.add_argument("--no-stream", dest="stream", action="store_false")
    work.add_argument(
        "--no-ignore-eos",
        dest="ignore_eos",
        action="store_false",
        help="do not send ignore_eos (vLLM extension)",
    )
    work.add_argument(
        "--no-min-tokens",
        dest="min_tokens",
        action="store_false",
        help="do not send min_tokens = max_tokens (vLLM extension)",
    )
    work.add_argument("--slo", help="goodput SLOs, e.g. ttft_ms=500,tpot_ms=50,e2e_ms=10000")

    run = p.add_argument_group("run")
    run.add_argument("--out", type=Path, help="output directory (default loadtest-results/<time>)")
    run.add_argument("--timeout", default="120s", help="longest silence inside one response")
    run.add_argument("--drain-timeout", help="after sending, wait at most this for stragglers")
    run.add_argument("--no-report", dest="report", action="store_false", help="skip HTML and PNGs")
    run.add_argument("--no-progress", dest="progress", action="store_false")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    try:
        config = config_from_args(args)
    except (ValueError, ValidationError) as exc:
        print(f"tokengate loadtest: {exc}", file=sys.stderr)
        return 2
    out = args.out or Path("loadtest-results") / time.strftime("%Y%m%d-%H%M%S")
    import uvloop

    from loadtest.execute import run_and_write

    return uvloop.run(run_and_write(config, out, report=args.report, progress=args.progress))


def config_from_args(args: argparse.Namespace) -> RunConfig:
    from loadtest.config import SLO, RunConfig
    from loadtest.lengths import parse_length

    output = args.output_tokens
    return RunConfig(
        base_url=args.base_url,
        model=args.model,
        tiers=parse_tiers(args.api_key or [os.environ.get("OPENAI_API_KEY", "EMPTY")]),
        profile=profile_from_args(args),
        duration_s=args.duration,
        requests=args.requests,
        warmup_s=args.warmup,
        seed=args.seed,
        prompt_tokens=parse_length(args.prompt_tokens),
        output_tokens=parse_length(output or "128"),
        dataset=args.dataset,
        dataset_output="distribution" if output else "reply",
        endpoint=args.endpoint,
        stream=args.stream,
        ignore_eos=args.ignore_eos,
        min_tokens=args.min_tokens,
        slo=SLO(**parse_slo(args.slo)) if args.slo else None,
        gpus=args.gpus,
        admin_key=args.admin_key,
        admin_url=args.admin_url,
        read_timeout_s=args.timeout,
        drain_timeout_s=args.drain_timeout,
    )


def profile_from_args(args: argparse.Namespace) -> dict[str, Any]:
    kind = args.profile
    if kind == "concurrency":
        if not args.concurrency:
            raise ValueError("--profile concurrency needs --concurrency N")
        return {"kind": kind, "users": args.concurrency}
    if kind == "sweep":
        if bool(args.sweep_rates) == bool(args.sweep_concurrency):
            raise ValueError(
                "--profile sweep needs exactly one of --sweep-rates, --sweep-concurrency"
            )
        listed = args.sweep_rates or args.sweep_concurrency
        return {
            "kind": kind,
            "arrival": args.sweep_arrival if args.sweep_rates else "concurrency",
            "loads": [float(x) for x in listed.split(",") if x.strip()],
            "cv": args.cv,
            "max_concurrency": args.max_concurrency,
            "saturation": {"min_gain": args.min_gain, "max_error_rate": args.max_error_rate,
                           "latency_factor": args.latency_factor},
        }  # fmt: skip
    if args.rate is None:
        raise ValueError(f"--profile {kind} needs --rate")
    out: dict[str, Any] = {"kind": kind, "rate": args.rate, "max_concurrency": args.max_concurrency}
    if kind == "gamma":
        out["cv"] = args.cv
    return out


def parse_tiers(specs: list[str]) -> list[dict[str, Any]]:
    """``KEY``, ``TIER=KEY`` or ``TIER=KEY:SHARE``; tiers without a share split what is left."""
    tiers: list[dict[str, Any]] = []
    for spec in specs:
        name, sep, rest = spec.partition("=")
        if not sep:
            name, rest = f"tier{len(tiers) + 1}" if len(specs) > 1 else "default", spec
        key, share = rest, None
        head, colon, tail = rest.rpartition(":")
        if colon:
            try:
                key, share = head, float(tail)
            except ValueError:
                key, share = rest, None  # a colon inside the key itself
        if not key:
            raise ValueError(f"--api-key {spec!r} has no key")
        tiers.append({"name": name, "api_key": key, "share": share})
    given = sum(t["share"] for t in tiers if t["share"] is not None)
    missing = [t for t in tiers if t["share"] is None]
    if missing:
        rest_share = max(1.0 - given, 0.0) if given < 1.0 else 0.0
        for t in missing:
            t["share"] = rest_share / len(missing) if rest_share > 0 else 1.0 / len(tiers)
    return tiers


def parse_slo(text: str) -> dict[str, float]:
    aliases = {"ttft": "ttft_ms", "tpot": "tpot_ms", "e2e": "e2e_ms", "e2el": "e2e_ms",
               "e2el_ms": "e2e_ms"}  # fmt: skip
    out: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep:
            name, sep, value = part.partition(":")  # vLLM's --goodput ttft:500 form
        name = aliases.get(name.strip(), name.strip())
        if name not in ("ttft_ms", "tpot_ms", "e2e_ms") or not sep:
            raise ValueError(f"bad SLO {part!r}; use ttft_ms=…,tpot_ms=…,e2e_ms=… (milliseconds)")
        out[name] = float(value)
    return out
