"""``tokengate sim``: run a simulated GPU inference server until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import signal
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "sim",
        help="run a simulated GPU inference server (OpenAI-compatible, vLLM-like)",
        description="An OpenAI-compatible server whose latency comes from a simulated "
        "continuous-batching engine on a roofline model of the GPU.",
    )
    p.add_argument("--preset", default="h100-llama3.1-8b", help="see --list-presets")
    p.add_argument("--list-presets", action="store_true", help="list presets and exit")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001)
    p.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="run N times faster than real time; 'inf' never sleeps",
    )
    p.add_argument(
        "--model",
        action="append",
        help="model name to serve (repeat for several; default: preset's)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-num-seqs", type=int, help="override the preset's batch limit")
    p.add_argument("--max-num-batched-tokens", type=int, help="override the per-step token budget")
    p.add_argument("--api-key", help="require this Bearer key, as vLLM's --api-key does")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from loadtest.sim.presets import PRESETS

    if args.list_presets:
        for p in PRESETS.values():
            e = p.engine
            print(
                f"{p.name:<26} {p.description}\n{'':<26} max_num_seqs={e.max_num_seqs} "
                f"max_num_batched_tokens={e.max_num_batched_tokens} kv_tokens={e.kv_tokens} "
                f"max_model_len={e.max_model_len}"
            )
        return 0
    if args.preset not in PRESETS:
        print(f"unknown preset {args.preset!r}; valid: {', '.join(PRESETS)}")
        return 2
    if not args.time_scale > 0:
        print("--time-scale must be positive")
        return 2
    import uvloop

    uvloop.run(_serve(args))
    return 0


async def _serve(args: argparse.Namespace) -> None:
    from loadtest.sim.server import SimServer

    sim = SimServer(
        args.preset,
        args.model,
        time_scale=args.time_scale,
        seed=args.seed,
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        max_num_seqs=args.max_num_seqs,
        max_num_batched_tokens=args.max_num_batched_tokens,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await sim.start()
    e = sim.preset.engine
    speed = (
        "real time"
        if args.time_scale == 1
        else ("no sleeping" if math.isinf(args.time_scale) else f"{args.time_scale:g}x real time")
    )
    print(
        f"tokengate sim: {sim.preset.name} ({speed}) on {sim.url}/v1, serving "
        f"{', '.join(sim.models)}; max_num_seqs={e.max_num_seqs}, "
        f"max_num_batched_tokens={e.max_num_batched_tokens}, kv_tokens={e.kv_tokens}. "
        "Ctrl-C stops.",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await sim.stop()
        print("tokengate sim: stopped", flush=True)
