"""``tokengate compare CONFIG…``: the same seeded workload against each config, on simulated GPUs.

Heavy imports wait until the command runs, so ``tokengate --help`` stays fast.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loadtest.config import RunConfig

EPILOG = """\
Each config's backends are replaced by in-process simulated GPU servers (preset inferred from
the engine model and gpus, or --sim-preset), the gateway runs in-process with one key per tier,
and the workload below is swept over --rates. Workload classes (--mix) go to the tier of the
same name, else to the config's first tier. Rates, durations and SLOs are in simulated time;
with --time-scale S the GPUs run S times faster and the gateway's floors, windows and timeouts
are divided by S, so the figures reported are in simulated GPU time.

example (examples/compare/README.md):
  tokengate compare examples/compare/plain.yaml examples/compare/tiered.yaml \\
      --mix fast=0.25,economy=0.75 --rates 2,4,6 --duration 20s --out compare-results/
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "compare",
        help="run one workload against several gateway configs on simulated GPUs: the frontier",
        description="Compare gateway configs on the tokenomics frontier: cost per 1M output "
        "tokens against TTFT, and throughput per GPU against speed per user.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("configs", nargs="+", type=Path, metavar="CONFIG", help="gateway YAML files")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    sim = p.add_argument_group("simulation")
    sim.add_argument("--time-scale", type=float, default=1.0, help="GPUs run Sx real time")
    sim.add_argument("--sim-preset", action="append", default=[], metavar="[BACKEND=]PRESET",
                     help="simulator preset for a backend (or all); default: inferred")  # fmt: skip
    sim.add_argument("--model", help="public model to load (default: each config's first)")
    load = p.add_argument_group("workload (simulated time)")
    load.add_argument("--arrival", choices=("constant", "poisson", "gamma"), default="poisson")
    load.add_argument("--cv", type=float, default=2.0, help="gamma: CV of the gaps")
    load.add_argument("--rates", "--rate", dest="rates", default="4",
                      help="requests/s, comma-separated for a curve: 2,4,8")  # fmt: skip
    load.add_argument("--max-concurrency", type=int, help="cap on requests in flight")
    load.add_argument("--duration", help="sending window per rate after warm-up: 30s, 2m")
    load.add_argument("--requests", type=int, help="measured requests per rate")
    load.add_argument("--warmup", default="0s")
    load.add_argument("--mix", default="default=1", metavar="CLASS=SHARE,...",
                      help="workload classes; a class goes to the tier of its name")  # fmt: skip
    load.add_argument("--prompt-tokens", default="512", help="N | uniform:LO:HI | ...")
    load.add_argument("--output-tokens", default="128", help="N | uniform:LO:HI | ...")
    load.add_argument("--dataset", type=Path, help="ShareGPT JSON or JSONL of prompts")
    load.add_argument("--seed", type=int, default=0)
    load.add_argument("--slo", help="goodput SLOs: ttft_ms=…,tpot_ms=…,e2e_ms=…")
    load.add_argument("--keep-going", action="store_true",
                      help="run every rate, past saturation too")  # fmt: skip
    econ = p.add_argument_group("economics")
    econ.add_argument("--margin", type=float, default=0.3, help="target (price - cost) / price")
    run = p.add_argument_group("run")
    run.add_argument("--no-report", dest="report", action="store_false",
                     help="skip each step's HTML report")  # fmt: skip
    run.add_argument("--no-progress", dest="progress", action="store_false")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from gateway.config.loader import ConfigError
    from loadtest.compare.scenario import parse_sim_presets

    try:
        template = template_from_args(args)
        presets = parse_sim_presets(args.sim_preset)
        if not args.time_scale > 0:
            raise ValueError("--time-scale must be positive")
        if not args.margin < 1:
            raise ValueError("--margin is (price - cost) / price and must be < 1")
    except (ValueError, ValidationError) as exc:
        print(f"tokengate compare: {exc}", file=sys.stderr)
        return 2
    import uvloop
    from rich.console import Console

    from loadtest.compare.run import run_compare

    invoked = sys.argv[1:2] == ["compare"]  # not when called as a function (tests)
    command = "tokengate compare " + shlex.join(sys.argv[2:]) if invoked else ""
    # Piped to a file or CI log, rich would squeeze the 11-column table into 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=180)
    try:
        doc = uvloop.run(
            run_compare(
                args.configs,
                template,
                args.out,
                time_scale=args.time_scale,
                presets=presets,
                model=args.model,
                margin=args.margin,
                report=args.report,
                progress=args.progress,
                command=command,
                console=console,
            )
        )
    except (ConfigError, ValueError) as exc:
        print(f"tokengate compare: {exc}", file=sys.stderr)
        return 2
    return 0 if any(p["completed"] for p in doc["points"]) else 1


def template_from_args(args: argparse.Namespace) -> RunConfig:
    """The workload in simulated time, with placeholder target and keys (set per config)."""
    from loadtest.cli import parse_slo
    from loadtest.config import SLO, RunConfig
    from loadtest.lengths import parse_length

    rates = [float(x) for x in str(args.rates).split(",") if x.strip()]
    profile: dict[str, Any] = {
        "kind": "sweep", "arrival": args.arrival, "loads": rates, "cv": args.cv,
        "max_concurrency": args.max_concurrency,
        "saturation": {"stop": not args.keep_going},
    }  # fmt: skip
    if args.duration is None and args.requests is None:
        args.duration = "20s"
    return RunConfig(
        base_url="http://127.0.0.1:9",
        model="-",
        tiers=parse_mix(args.mix),
        profile=profile,
        duration_s=args.duration,
        requests=args.requests,
        warmup_s=args.warmup,
        seed=args.seed,
        prompt_tokens=parse_length(args.prompt_tokens),
        output_tokens=parse_length(args.output_tokens),
        dataset=args.dataset,
        dataset_output="distribution",
        slo=SLO(**parse_slo(args.slo)) if args.slo else None,
    )


def parse_mix(text: str) -> list[dict[str, Any]]:
    """``fast=0.25,economy=0.75`` → workload classes (as loadtest tiers, keys set per config)."""
    out = []
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, share = part.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"bad --mix entry {part!r}; use CLASS=SHARE,...")
        out.append({"name": name.strip(), "api_key": "set-per-config", "share": float(share)})
    if not out:
        raise ValueError("--mix names no class")
    return out
