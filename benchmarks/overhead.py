"""Gateway overhead: latency and CPU per request the gateway adds over calling the engine directly.

    python -m benchmarks.overhead [--requests N] [--rounds R] [--state memory|redis]
                                  [--out benchmarks/results/overhead.json]

One run starts a zero-delay simulated engine (``tokengate sim --preset zero-delay
--time-scale inf``: tokens cost nothing, so every microsecond measured is the proxy's), the
gateway (``tokengate serve``), and a bare aiohttp pass-through proxy (``benchmarks/passthrough``),
each its own process. The gateway and the pass-through share one pinned core; this process (the
closed-loop load generator), the simulator and Redis share the other. For each mode (streamed,
whole) and concurrency (1, 16, 64) every target gets the same warmed-up closed loop, in rounds
(targets interleaved, so drift from a shared machine hits all of them alike); figures are
medians over rounds. "Added" latency is a target's percentile minus the direct call's, same
round. CPU per request is the proxy process's on-CPU time (``/proc/<pid>/task/*/schedstat``,
nanoseconds; ``/proc/<pid>/stat`` ticks as a fallback) over the measured window / requests.

``--state redis`` runs a second gateway on ``state: {kind: redis}`` against a private
``redis-server`` on a free port, beside the memory one, so the cost of shared rate limits,
budgets and metering is a difference within one run. The benchmark key has RPM/TPM limits and
a budget (far above what the run uses) so admission does real work; at concurrency 16 the same
gateway is also called with a key without limits, to isolate what admission costs.

``--profile FILE`` runs the ``--state`` gateway under yappi or cProfile, stats to FILE on exit
(latency and CPU figures of such a run are inflated, not for the record). This module is long
(~500 lines) because it is one script: processes, load, measurement, report.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import uvloop
import yaml

SIM_MODEL = "meta-llama/Llama-3.1-8B-Instruct"  # the zero-delay preset's model name
PUBLIC_MODEL = "bench"
LIMITED_KEY = "sk-bench-limited-0123456789"
OPEN_KEY = "sk-bench-open-0123456789"
CONCURRENCIES = (1, 16, 64)
MODES = ("stream", "whole")
LIMITS_CONCURRENCY = 16  # the cell where the key without limits is measured too
CPU_TARGET_RATIO = 1.5
P50_TARGET_MS = 1.0
PROMPT = "The quick brown fox jumps over the lazy dog while the cat sleeps. " * 14  # ≈ 200 tokens
_perf = time.perf_counter


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """On-CPU time of every thread of ``pid`` so far (ns precision where schedstat exists)."""
    total_ns = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total_ns += int(f.read().split()[0])
        return total_ns / 1e9
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        pass
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@dataclass
class Proc:
    """A child process with its log file; ``core`` is the CPU it is pinned to (None: inherited)."""

    name: str
    argv: list[str]
    log: Path
    core: int | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = self.argv
        if self.core is not None and shutil.which("taskset"):
            argv = ["taskset", "-c", str(self.core), *argv]  # before exec: every thread inherits it
        with open(self.log, "wb") as out:
            self.popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        if self.core is not None and not shutil.which("taskset"):
            os.sched_setaffinity(self.popen.pid, {self.core})

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def check_alive(self) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{tail}")

    def stop(self) -> None:
        """SIGTERM (the gateway shuts down cleanly, so cProfile can write), then SIGKILL."""
        p, self.popen = self.popen, None
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


async def wait_ready(proc: Proc, url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as s:
        while True:
            proc.check_alive()
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with s.get(url) as r:
                    if r.status == 200:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{proc.name} not ready at {url} after {timeout_s:.0f} s")
            await asyncio.sleep(0.1)


def start_redis(workdir: Path, core: int | None) -> tuple[Proc, str]:
    """A private redis-server on a free port (never the machine's shared 6379)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("--state redis needs redis-server on PATH")
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
            "no", "--dir", str(workdir), "--daemonize", "no"]
    proc = Proc("redis", argv, workdir / "redis.log", core)
    proc.start()
    deadline = time.monotonic() + 10
    while "Ready to accept connections" not in proc.log.read_text(errors="replace"):
        proc.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError("redis-server did not start")
        time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


def gateway_config(sim_url: str, port: int, state: dict[str, object]) -> dict[str, object]:
    """One backend (the simulator), one tier without floor or cap, a limited and an open key."""
    return {
        "server": {"host": "127.0.0.1", "port": port, "access_log": False},
        "state": state,
        "backends": [
            {"name": "sim", "url": sim_url, "models": {PUBLIC_MODEL: SIM_MODEL}, "capacity": 1024}
        ],
        "tiers": {"bench": {"prices": {"input": 0.2, "output": 0.6}}},
        "keys": [
            {  # limits far above the run's load: admission checks them without ever refusing
                "key": LIMITED_KEY, "tenant": "bench", "tier": "bench",
                "rpm": 10_000_000, "tpm": 10_000_000_000,
                "budget": {"usd": 1_000_000, "period": "day"},
            },
            {"key": OPEN_KEY, "tenant": "bench-open", "tier": "bench"},
        ],
    }


# ---------------------------------------------------------------- load


@dataclass(frozen=True, slots=True)
class Target:
    """Where requests go and which process pays for them (``proc`` None: no proxy in between)."""

    name: str
    url: str
    model: str
    key: str | None
    proc: Proc | None


@dataclass(slots=True)
class Window:
    """One closed-loop run: latencies in seconds and CPU seconds per process over the window."""

    e2e: list[float] = field(default_factory=list)
    ttfb: list[float] = field(default_factory=list)
    errors: int = 0
    wall_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)


def request_body(model: str, stream: bool, max_tokens: int) -> bytes:
    body: dict[str, object] = {
        "model": model,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": max_tokens,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body).encode()


async def closed_loop(
    session: aiohttp.ClientSession, t: Target, *, stream: bool, concurrency: int, n: int,
    max_tokens: int, meter: Sequence[Proc] = (),
) -> Window:
    """``concurrency`` workers send ``n`` requests back to back; the window spans all of them."""
    body = request_body(t.model, stream, max_tokens)
    headers = {"Content-Type": "application/json"}
    if t.key:
        headers["Authorization"] = f"Bearer {t.key}"
    url = t.url + "/v1/chat/completions"
    w = Window()
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            t0 = _perf()
            first = None
            ok = False
            try:
                async with session.post(url, data=body, headers=headers) as r:
                    if stream:
                        tail = b""
                        async for chunk in r.content.iter_any():
                            if first is None:
                                first = _perf()
                            tail = (tail + chunk)[-16:]
                        ok = r.status == 200 and tail.endswith(b"data: [DONE]\n\n")
                    else:
                        data = await r.read()
                        first = _perf()
                        ok = r.status == 200 and b'"usage"' in data
            except aiohttp.ClientError:
                ok = False
            t1 = _perf()
            if not ok:
                w.errors += 1
                continue
            w.e2e.append(t1 - t0)
            w.ttfb.append((first or t1) - t0)

    before = {p.name: cpu_seconds(p.pid) for p in meter}
    start = _perf()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    w.wall_s = _perf() - start
    await asyncio.sleep(0.05)  # let off-path work (release, metering) of the last requests finish
    w.cpu_s = {p.name: cpu_seconds(p.pid) - before[p.name] for p in meter}
    return w


def percentile(xs: Sequence[float], q: float) -> float:
    s = sorted(xs)
    if not s:
        return float("nan")
    i = min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))
    return s[i]


@dataclass(slots=True)
class Cell:
    """A target in one (mode, concurrency) cell: one summary per round, medians on demand."""

    target: str
    mode: str
    concurrency: int
    rounds: list[dict[str, float]] = field(default_factory=list)

    def median(self, k: str) -> float:
        vals = [r[k] for r in self.rounds if k in r and r[k] == r[k]]
        return statistics.median(vals) if vals else float("nan")


def summarise(w: Window, direct: Window | None, proxy: str | None) -> dict[str, float]:
    done = len(w.e2e)
    s = {
        "requests": float(done),
        "errors": float(w.errors),
        "p50_ms": percentile(w.e2e, 50) * 1e3,
        "p99_ms": percentile(w.e2e, 99) * 1e3,
        "ttfb_p50_ms": percentile(w.ttfb, 50) * 1e3,
        "rps": done / w.wall_s if w.wall_s else float("nan"),
    }
    for name, cpu in w.cpu_s.items():
        s[f"cpu_us_per_req[{name}]"] = cpu / max(done, 1) * 1e6
    if proxy is not None:
        s["cpu_us_per_req"] = s[f"cpu_us_per_req[{proxy}]"]
    if direct is not None:
        s["added_p50_ms"] = s["p50_ms"] - percentile(direct.e2e, 50) * 1e3
        s["added_p99_ms"] = s["p99_ms"] - percentile(direct.e2e, 99) * 1e3
        s["added_ttfb_p50_ms"] = s["ttfb_p50_ms"] - percentile(direct.ttfb, 50) * 1e3
    return s


# ---------------------------------------------------------------- the run


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Gateway overhead over a zero-delay engine.")
    p.add_argument(
        "--requests", type=int, default=300, help="measured requests per target, cell and round"
    )
    p.add_argument("--rounds", type=int, default=3, help="rounds; figures are medians over them")
    p.add_argument("--state", choices=("memory", "redis"), default="memory")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/overhead.json"))
    p.add_argument("--md", type=Path, help="also write the table as Markdown here")
    p.add_argument("--max-tokens", type=int, default=32, help="output tokens per request")
    p.add_argument("--concurrency", default=",".join(map(str, CONCURRENCIES)))
    p.add_argument("--modes", default=",".join(MODES), help="stream, whole, or both")
    p.add_argument("--targets", help="only these targets (comma-separated), e.g. direct,gateway")
    p.add_argument("--profile", type=Path, help="profile the --state gateway, pstats here")
    return p.parse_args(argv)


def pick_cores() -> tuple[int | None, int | None]:
    """(proxy core, load core): the first two CPUs this process may use; no pinning on one."""
    cores = sorted(os.sched_getaffinity(0))
    return (cores[0], cores[1]) if len(cores) >= 2 else (None, None)


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    proxy_core, load_core = pick_cores()
    if load_core is not None:
        os.sched_setaffinity(0, {load_core})  # children started below inherit it
    procs: list[Proc] = []
    py = sys.executable
    try:
        sim_port = free_port()
        sim = Proc("sim", [py, "-m", "gateway", "sim", "--preset", "zero-delay", "--time-scale",
                           "inf", "--port", str(sim_port)], workdir / "sim.log")
        sim_url = f"http://127.0.0.1:{sim_port}"
        pt_port = free_port()
        passthrough = Proc("passthrough", [py, "-m", "benchmarks.passthrough", "--upstream",
                                           sim_url, "--port", str(pt_port)],
                           workdir / "passthrough.log", proxy_core)
        gateways: list[tuple[str, Proc, int]] = []
        states: list[tuple[str, dict[str, object]]] = [("gateway", {"kind": "memory"})]
        if args.state == "redis":
            redis, redis_url = start_redis(workdir, None)
            procs.append(redis)
            states.append(("gateway+redis", {
                "kind": "redis", "redis_url": redis_url, "spool_path": str(workdir / "spool"),
            }))
        for name, state in states:
            port = free_port()
            cfg = workdir / f"{name}.yaml"
            cfg.write_text(yaml.safe_dump(gateway_config(sim_url, port, state), sort_keys=False))
            argv = [py, "-m", "gateway", "serve", "--config", str(cfg), "--log-level", "WARNING"]
            if args.profile is not None and name == states[-1][0]:  # the --state gateway
                wrapper = "from benchmarks.overhead import profiled_gateway; profiled_gateway()"
                argv = [py, "-c", wrapper, str(args.profile), *argv[3:]]
            gateways.append((name, Proc(name, argv, workdir / f"{name}.log", proxy_core), port))
        for p in (sim, passthrough, *(g for _, g, _ in gateways)):
            p.start()
            procs.append(p)
        await wait_ready(sim, sim_url + "/health")
        await wait_ready(passthrough, f"http://127.0.0.1:{pt_port}/healthz")
        targets = [
            Target("direct", sim_url, SIM_MODEL, None, None),
            Target("passthrough", f"http://127.0.0.1:{pt_port}", SIM_MODEL, None, passthrough),
        ]
        for name, proc, port in gateways:
            await wait_ready(proc, f"http://127.0.0.1:{port}/readyz")
            url = f"http://127.0.0.1:{port}"
            targets.append(Target(name, url, PUBLIC_MODEL, LIMITED_KEY, proc))
            targets.append(Target(f"{name} (no limits)", url, PUBLIC_MODEL, OPEN_KEY, proc))
        if args.targets:
            wanted = set(args.targets.split(","))
            targets = [t for t in targets if t.name in wanted or t.name == "direct"]
        cells = await measure(args, targets, [p for p in procs if p is not None])
    finally:
        for p in reversed(procs):
            p.stop()
    return report_data(args, cells, proxy_core, load_core)


async def measure(
    args: argparse.Namespace, targets: list[Target], procs: list[Proc]
) -> list[Cell]:
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    modes = args.modes.split(",")
    cells: dict[tuple[str, str, int], Cell] = {}
    meter = [*procs]
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as s:
        for t in targets:  # check every target answers, then warm caches, pools, tiktoken
            for mode in modes:
                w = await closed_loop(
                    s, t, stream=mode == "stream", concurrency=4, n=200, max_tokens=args.max_tokens
                )
                if w.errors:
                    raise RuntimeError(f"{t.name} ({mode}): {w.errors}/200 warm-up requests failed")
        for rnd in range(args.rounds):
            for mode in modes:
                for c in concurrencies:
                    direct: Window | None = None
                    for t in targets:
                        if t.name.endswith("(no limits)") and c != LIMITS_CONCURRENCY:
                            continue
                        stream = mode == "stream"
                        run = {"stream": stream, "concurrency": c, "max_tokens": args.max_tokens}
                        await closed_loop(s, t, n=max(2 * c, 50), **run)  # warm this cell
                        w = await closed_loop(s, t, n=args.requests, meter=meter, **run)
                        if t.name == "direct":
                            direct = w
                        cell = cells.setdefault((t.name, mode, c), Cell(t.name, mode, c))
                        cell.rounds.append(summarise(
                            w, None if t.name == "direct" else direct,
                            t.proc.name if t.proc else None,
                        ))
                        for p in procs:
                            p.check_alive()
            print(f"round {rnd + 1}/{args.rounds} done", file=sys.stderr)
    return list(cells.values())


def report_data(
    args: argparse.Namespace, cells: list[Cell], proxy_core: int | None, load_core: int | None
) -> dict[str, object]:
    rows = []
    for c in cells:
        keys = sorted({k for r in c.rounds for k in r})
        rows.append({
            "target": c.target, "mode": c.mode, "concurrency": c.concurrency,
            "median": {k: round(c.median(k), 4) for k in keys},
            "rounds": c.rounds,
        })
    ratios = cpu_ratios(cells)
    return {
        "command": "python -m benchmarks.overhead " + " ".join(sys.argv[1:]),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "machine": {
            "cpu": _cpu_model(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "loadavg": os.getloadavg(), "proxy_core": proxy_core, "load_core": load_core,
            "shared": "other engineers' test runs on the same cores: figures are noisy",
        },
        "settings": {
            "state": args.state, "requests": args.requests, "rounds": args.rounds,
            "max_tokens": args.max_tokens, "prompt_tokens_approx": 200,
            "profiled": args.profile is not None,
        },
        "cells": rows,
        "targets": verdicts(cells, ratios),
    }


def cpu_ratios(cells: list[Cell]) -> dict[tuple[str, str, int], float]:
    """Gateway CPU per request over the pass-through's, per (gateway target, mode, concurrency)."""
    by = {(c.target, c.mode, c.concurrency): c for c in cells}
    out = {}
    for (name, mode, conc), c in by.items():
        base = by.get(("passthrough", mode, conc))
        if name.startswith("gateway") and base is not None:
            out[(name, mode, conc)] = c.median("cpu_us_per_req") / base.median("cpu_us_per_req")
    return out


def verdicts(cells: list[Cell], ratios: dict[tuple[str, str, int], float]) -> dict[str, object]:
    out: dict[str, object] = {}
    for c in cells:
        if c.target.startswith("gateway") and c.concurrency == 1 and "limits" not in c.target:
            v = c.median("added_p50_ms")
            out[f"{c.target} {c.mode} added p50 at c=1 < {P50_TARGET_MS} ms"] = {
                "value_ms": round(v, 3), "met": v < P50_TARGET_MS,
            }
    for (name, mode, conc), r in sorted(ratios.items()):
        if "limits" not in name:
            out[f"{name} {mode} c={conc} CPU/req <= {CPU_TARGET_RATIO}x passthrough"] = {
                "ratio": round(r, 2), "met": r <= CPU_TARGET_RATIO,
            }
    return out


def _git_commit() -> str | None:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        return subprocess.check_output(
            ["git", "rev-parse", "--short", "HEAD"], text=True, stderr=subprocess.DEVNULL
        ).strip()
    return None


def _cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return None


# ---------------------------------------------------------------- output


COLUMNS = ("mode", "conc", "target", "p50 ms", "p99 ms", "+p50 ms", "+p99 ms", "req/s",
           "CPU µs/req", "x passthrough", "Redis µs/req")


def table_rows(data: dict[str, object]) -> Iterator[tuple[str, ...]]:
    cells = data["cells"]
    assert isinstance(cells, list)
    base = {(r["mode"], r["concurrency"]): r["median"].get("cpu_us_per_req")
            for r in cells if r["target"] == "passthrough"}
    for r in cells:
        m = r["median"]
        cpu = m.get("cpu_us_per_req")
        b = base.get((r["mode"], r["concurrency"]))
        ratio = f"{cpu / b:.2f}" if cpu and b and r["target"].startswith("gateway") else ""
        yield (
            r["mode"], str(r["concurrency"]), r["target"],
            f"{m['p50_ms']:.2f}", f"{m['p99_ms']:.2f}",
            _fmt(m.get("added_p50_ms")), _fmt(m.get("added_p99_ms")),
            f"{m['rps']:.0f}", f"{cpu:.0f}" if cpu else "", ratio,
            f"{m['cpu_us_per_req[redis]']:.0f}" if "redis" in r["target"] else "",
        )


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:+.2f}"


def print_table(data: dict[str, object]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"tokengate overhead ({data['settings']['state']} state)")  # type: ignore[index]
    for col in COLUMNS:
        t.add_column(col, justify="left" if col in ("mode", "target") else "right")
    for row in table_rows(data):
        t.add_row(*row)
    console = Console(width=max(Console().width, 120))  # a pipe is 80 wide: the table needs more
    console.print(t)
    for name, v in data["targets"].items():  # type: ignore[attr-defined]
        mark = "[green]met[/]" if v["met"] else "[red]NOT met[/]"
        console.print(f"{mark}  {name}: {v.get('value_ms', v.get('ratio'))}")


def markdown_table(data: dict[str, object]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(data)]
    return "\n".join(lines) + "\n"


def profiled_gateway() -> None:
    """``python -c … OUT serve --config …``: the gateway CLI under a profiler, stats to OUT.

    yappi on its CPU clock when installed (coroutine-aware: time waiting is not charged to the
    awaiting function), else cProfile. Both write pstats files (``python -m pstats OUT``).
    """
    out, cli_args = sys.argv[1], sys.argv[2:]
    from gateway.cli import main as cli_main

    try:
        import yappi
    except ImportError:
        import cProfile

        env = {"cli_main": cli_main, "cli_args": cli_args}
        cProfile.runctx("cli_main(cli_args)", globals(), env, out)
        return
    yappi.set_clock_type("cpu")
    yappi.start(builtins=True)
    try:
        cli_main(cli_args)
    finally:
        yappi.stop()
        yappi.get_func_stats().save(out, type="pstat")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tokengate-overhead-") as tmp:
        data = uvloop.run(run(args, Path(tmp)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1, default=str) + "\n")
    if args.md is not None:
        args.md.write_text(markdown_table(data))
    print_table(data)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
