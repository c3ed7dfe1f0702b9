"""How much load one generator process sustains on one core, so it is never what limits a test.

Starts ``tokengate sim`` in a child process pinned to another core, pins itself to one core,
and runs (1) non-stream constant-rate runs at rising rates against the zero-delay preset
and (2) a closed loop of N concurrent streams against a GPU preset. For each it prints the
achieved send and completion rates, the schedule lag and the generator's own CPU use::

    python -m loadtest.bench_generator --rates 1000,1500,2000,3000,4000 --streams 2000

Measured on the shared 2-core dev VM (Python 3.11, uvloop, orjson; generator pinned to core 0,
simulator to core 1), 10 s per rate after 1 s warm-up:

    non-stream 1000 req/s  sent 1000.0/s  done 1000.0/s  lag p50 0.03 p99 2.32 max 4.96 ms
    non-stream 2000 req/s  sent 2000.0/s  done 1999.9/s  lag p50 0.01 p99 0.09 max 2.07 ms
    non-stream 3000 req/s  sent 2999.6/s  done 2998.6/s  lag p50 0.02 p99 0.28 max 2.41 ms (5 s)
    non-stream 4000 req/s  sent 3999.8/s  done 3999.6/s  lag p50 0.01 p99 1.29 max 4.29 ms (5 s)
    2000 concurrent streams  2000 in flight, 18.1k chunks/s parsed, 0 errors, client CPU 62 %

Above ~1000 req/s the client CPU reads 100 %: the sender polls the last sub-millisecond before
each send because uvloop's timers have 1 ms resolution; the lag columns show the real headroom.
With 2000 streams the single-core simulator, not the generator, limits the token rate.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.table import Table

from loadtest.config import RunConfig, Tier
from loadtest.profiles import ConcurrencyProfile, ConstantProfile
from loadtest.runner import run_load
from loadtest.summary import summarize

MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m loadtest.bench_generator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--rates", default="500,1000,1500,2000", help="non-stream req/s to try")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per rate")
    p.add_argument("--streams", type=int, default=2000, help="concurrent streams to hold")
    p.add_argument("--stream-requests", type=int, default=3, help="requests per stream user")
    p.add_argument("--stream-tokens", type=int, default=256)
    p.add_argument("--client-cpu", type=int, default=0)
    p.add_argument("--server-cpu", type=int, default=1)
    args = p.parse_args(argv)
    os.sched_setaffinity(0, {args.client_cpu})
    import uvloop

    rows: list[dict[str, Any]] = []
    with _sim(["--preset", "zero-delay"], args.server_cpu) as url:
        for r in (float(x) for x in args.rates.split(",")):
            rows.append(uvloop.run(_rate_run(url, r, args.duration)))
    gpu = ["--preset", "h100-llama3.1-8b", "--max-num-seqs", str(max(args.streams, 256))]
    with _sim(gpu, args.server_cpu) as url:
        rows.append(
            uvloop.run(_stream_run(url, args.streams, args.stream_requests, args.stream_tokens))
        )
    _print(rows)
    return 0


async def _rate_run(url: str, rate: float, duration: float) -> dict[str, Any]:
    config = RunConfig(
        base_url=url, model=MODEL, tiers=[Tier(api_key="bench")],
        profile=ConstantProfile(rate=rate), duration_s=duration, warmup_s=1.0,
        prompt_tokens={"kind": "fixed", "value": 32}, output_tokens={"kind": "fixed", "value": 8},
        stream=False,
    )  # fmt: skip
    return await _measure(f"non-stream {rate:g} req/s", config)


async def _stream_run(url: str, streams: int, per_user: int, tokens: int) -> dict[str, Any]:
    config = RunConfig(
        base_url=url, model=MODEL, tiers=[Tier(api_key="bench")],
        profile=ConcurrencyProfile(users=streams), requests=streams * per_user,
        prompt_tokens={"kind": "fixed", "value": 64},
        output_tokens={"kind": "fixed", "value": tokens},
    )  # fmt: skip
    return await _measure(f"{streams} concurrent streams", config)


async def _measure(name: str, config: RunConfig) -> dict[str, Any]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = await run_load(config)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    s = summarize(result)
    o = s["overall"]
    in_flight = int(max(s["timeline"]["in_flight"], default=0))
    events = sum(len(r.itl_s) + 1 for r in result.records if r.first_token_s is not None)
    return {
        "run": name,
        "sent/s": o["sent_rate"],
        "done/s": o["request_throughput"],
        "lag p50": o["p50_schedule_lag_ms"],
        "lag p99": o["p99_schedule_lag_ms"],
        "lag max": o["max_schedule_lag_ms"],
        "max in flight": in_flight,
        "chunks/s": events / result.wall_duration_s if events else None,
        "errors": o["failed"],
        "client CPU": cpu / wall,
    }


def _print(rows: list[dict[str, Any]]) -> None:
    table = Table(title=f"generator on one core (pinned), Python {sys.version.split()[0]}")
    for key in rows[0]:
        table.add_column(key, justify="left" if key == "run" else "right")
    for row in rows:
        table.add_row(*(_cell(k, v) for k, v in row.items()))
    Console(width=160).print(table)


def _cell(key: str, v: Any) -> str:
    if v is None:
        return "-"
    if key == "client CPU":
        return f"{v:.0%}"
    if isinstance(v, float):
        return f"{v:,.1f}" if key.startswith(("sent", "done", "chunks")) else f"{v:,.2f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


@contextmanager
def _sim(args: list[str], cpu: int) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "gateway.cli", "sim", "--port", str(port), *args]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),  # noqa: PLW1509 - no threads yet
    )
    try:
        _wait_listening(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"the simulator exited: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)  # polling a child process's port: no event to wait on
    raise RuntimeError("the simulator did not start listening within 30 s")


if __name__ == "__main__":
    sys.exit(main())
