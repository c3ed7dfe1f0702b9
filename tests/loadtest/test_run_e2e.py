"""End to end against the real simulated GPU server.

Output files, each profile, errors and crashes, sweeps, the CLI, and no coordinated omission.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from loadtest.config import RunConfig
from loadtest.execute import run_and_write
from loadtest.profiles import ConcurrencyProfile
from loadtest.runner import run_load
from loadtest.sim.server import SimServer
from tests.loadtest.conftest import MODEL

VLLM_NAMES = [
    f"{stat}_{metric}_ms"
    for metric in ("ttft", "tpot", "itl", "e2el")
    for stat in ("mean", "median", "std", "p50", "p90", "p99")
] + [
    "request_throughput",
    "output_throughput",
    "total_token_throughput",
    "request_goodput",
    "completed",
    "total_input_tokens",
    "total_output_tokens",
]


def config(sim: SimServer, **extra: Any) -> RunConfig:
    base: dict[str, Any] = {
        "base_url": sim.url,
        "model": MODEL,
        "tiers": [
            {"name": "fast", "api_key": "sk-fast", "share": 0.3},
            {"name": "economy", "api_key": "sk-eco", "share": 0.7},
        ],
        "profile": {"kind": "poisson", "rate": 40},
        "duration_s": 1.0,
        "prompt_tokens": "uniform:50:150",
        "output_tokens": 16,
        "seed": 3,
    }
    return RunConfig.model_validate(base | extra)


def quiet() -> Console:
    return Console(file=io.StringIO(), width=120)


async def test_a_run_writes_every_output_file(lt_sim: SimServer, tmp_path: Path) -> None:
    cfg = config(lt_sim, warmup_s=0.25, slo={"ttft_ms": 1000, "tpot_ms": 100}, gpus=1)
    assert await run_and_write(cfg, tmp_path, console=quiet()) == 0

    for name in (
        "summary.json",
        "requests.jsonl",
        "requests.csv",
        "report.html",
        "ttft.png",
        "itl.png",
        "e2e.png",
        "timeline.png",
    ):
        assert (tmp_path / name).stat().st_size > 0, name
    summary = json.loads((tmp_path / "summary.json").read_text())
    overall = summary["overall"]
    assert set(VLLM_NAMES) <= set(overall)
    assert overall["failed"] == 0 and overall["completed"] == overall["requests"] > 10
    assert overall["warmup_requests"] > 0
    assert overall["request_goodput"] is not None
    assert overall["output_throughput_per_gpu"] == overall["output_throughput"]
    assert set(summary["tiers"]) == {"fast", "economy"}
    assert summary["run"]["latency_origin"] == "intended_send"

    rows = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert len(rows) == overall["requests"] + overall["warmup_requests"]
    for row in rows:
        assert row["status"] == 200 and row["error_kind"] is None
        assert row["completion_tokens"] == 16 and row["usage_source"] == "server"
        assert len(row["itl_ms"]) == 15  # one content chunk per token from this server
        assert row["ttft_ms"] <= row["e2e_ms"]
        assert row["sent_s"] >= row["intended_s"]
    with (tmp_path / "requests.csv").open() as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(rows)
    assert table[0]["itl_count"] == "15" and float(table[0]["itl_p99_ms"]) > 0
    assert (tmp_path / "report.html").read_text().count("data:image/png;base64,") == 4


async def test_open_loop_never_waits_for_responses(tmp_path: Path) -> None:
    """A server that runs one sequence at a time falls behind; the sender must not."""
    async with SimServer(
        preset="h100-llama3.1-8b", model=MODEL, time_scale=5.0, max_num_seqs=1
    ) as slow:
        cfg = config(
            slow,
            tiers=[{"api_key": "k"}],
            profile={"kind": "constant", "rate": 50},
            duration_s=None,
            requests=10,
            output_tokens=64,
        )
        result = await run_load(cfg)
        closed = await run_load(cfg, profile=ConcurrencyProfile(users=1))
    records = result.records
    assert all(r.ok for r in records)
    # Requests kept leaving on schedule while the server was busy with the first one...
    assert sum(1 for r in records if r.sent_s < records[0].end_s) >= 4
    # ...so the queue shows: each waits for all before it (≈ 96 ms of service each, 20 ms apart),
    # the later half longer than the earlier (neighbours may swap by a millisecond of jitter).
    e2e = [r.e2e_ms for r in records]
    assert max(e2e[:5]) < min(e2e[5:])
    assert e2e[-1] > 4 * e2e[0]
    # One closed-loop user never queues behind itself, so it typically sees only the service
    # time (the median, not the max: the engine may still be finishing the open loop's tail).
    closed_e2e = sorted(r.e2e_ms for r in closed.records)
    assert closed_e2e[len(closed_e2e) // 2] < 2 * closed_e2e[0]
    assert closed_e2e[len(closed_e2e) // 2] * 2 < e2e[-1]
    assert all(r.intended_s == r.sent_s for r in closed.records)


async def test_concurrency_profile(lt_sim: SimServer) -> None:
    cfg = config(lt_sim, profile={"kind": "concurrency", "users": 4}, duration_s=None, requests=20)
    result = await run_load(cfg)
    assert len(result.records) == 20 and all(r.ok for r in result.records)
    assert result.latency_origin == "actual_send"
    events = sorted(
        [(r.sent_s, 1) for r in result.records] + [(r.end_s, -1) for r in result.records]
    )
    in_flight = peak = 0
    for _, step in events:
        in_flight += step
        peak = max(peak, in_flight)
    assert peak == 4


async def test_max_concurrency_caps_an_open_loop(lt_sim: SimServer) -> None:
    cfg = config(
        lt_sim,
        profile={"kind": "poisson", "rate": 400, "max_concurrency": 2},
        duration_s=None,
        requests=12,
    )
    result = await run_load(cfg)
    assert all(r.ok for r in result.records)
    for r in result.records:
        overlapping = sum(1 for o in result.records if o.sent_s <= r.sent_s < o.end_s)
        assert overlapping <= 2
    assert max(r.schedule_lag_ms for r in result.records) > 0  # the wait for a slot shows


async def test_non_streaming(lt_sim: SimServer) -> None:
    result = await run_load(config(lt_sim, stream=False, duration_s=None, requests=5))
    for r in result.records:
        assert r.ok and r.first_token_s is None and r.itl_s == []
        assert r.completion_tokens == 16 and r.usage_source == "server"


async def test_tokens_are_counted_when_the_server_sends_no_usage(lt_sim: SimServer) -> None:
    cfg = config(
        lt_sim, duration_s=None, requests=3, extra_body={"stream_options": {"include_usage": False}}
    )
    for r in (await run_load(cfg)).records:
        assert r.ok and r.usage_source == "counted"
        assert r.completion_tokens and r.completion_tokens > 0
        assert r.prompt_tokens == r.requested_prompt_tokens


async def test_server_errors_are_counted_by_kind(lt_sim: SimServer, tmp_path: Path) -> None:
    lt_sim.fail_next(3, status=503)
    cfg = config(
        lt_sim,
        tiers=[{"api_key": "k"}],
        duration_s=None,
        requests=8,
        profile={"kind": "concurrency", "users": 1},
    )
    assert await run_and_write(cfg, tmp_path, console=quiet(), report=False) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["overall"]["errors"] == {"http_503": 3}
    assert summary["overall"]["completed"] == 5
    first = json.loads((tmp_path / "requests.jsonl").read_text().splitlines()[0])
    assert first["status"] == 503 and first["error_message"]


async def test_a_crashed_server_yields_error_records_not_a_crash(tmp_path: Path) -> None:
    async with SimServer(preset="h100-llama3.1-8b", model=MODEL, time_scale=1.0) as sim:
        cfg = config(
            sim,
            tiers=[{"api_key": "k"}],
            duration_s=None,
            requests=4,
            profile={"kind": "concurrency", "users": 4},
            output_tokens=2000,
        )
        run = asyncio.create_task(run_load(cfg))
        await sim.wait_for(lambda: sim.engine.num_running == 4)
        await sim.kill()
        result = await run
    assert len(result.records) == 4
    assert {r.error_kind for r in result.records} <= {
        "disconnected",
        "incomplete_stream",
        "client_error",
    }
    assert all(r.error_kind for r in result.records)


async def test_sweep_stops_at_saturation(tmp_path: Path) -> None:
    """A sweep runs step after step and stops at the first load its rule calls saturated.

    Which load that is depends on wall-clock throughput of short steps (the rule itself is
    tested on hand-made numbers in test_sweep.py); here the sim runs 2 sequences at a time,
    so going from 16 to 32 to 64 users cannot double throughput: it must stop by 64.
    """
    loads = [1, 2, 16, 32, 64]
    async with SimServer(
        preset="h100-llama3.1-8b", model=MODEL, time_scale=20.0, max_num_seqs=2
    ) as sim:
        cfg = config(
            sim,
            tiers=[{"api_key": "k"}],
            duration_s=0.3,
            profile={"kind": "sweep", "arrival": "concurrency", "loads": loads},
        )
        assert await run_and_write(cfg, tmp_path, console=quiet()) == 0
    sweep = json.loads((tmp_path / "summary.json").read_text())
    sat = sweep["saturation"]
    assert sat is not None and sat["load"] in loads[1:]
    assert sat["last_good_load"] == loads[loads.index(sat["load"]) - 1]
    assert [s["load"] for s in sweep["steps"]] == [n for n in loads if n <= sat["load"]]
    for s in sweep["steps"]:
        assert (tmp_path / s["dir"] / "summary.json").exists()
        assert (tmp_path / s["dir"] / "report.html").exists()
    assert "data:image/png;base64," in (tmp_path / "report.html").read_text()


async def test_the_cli_end_to_end(lt_sim: SimServer, tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "loadtest",
        "--base-url",
        lt_sim.url,
        "--model",
        MODEL,
        "--api-key",
        "fast=sk-f:0.5",
        "--api-key",
        "eco=sk-e:0.5",
        "--profile",
        "constant",
        "--rate",
        "20",
        "--duration",
        "500ms",
        "--out",
        str(tmp_path),
        "--output-tokens",
        "8",
        "--prompt-tokens",
        "64",
        "--no-report",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    assert "TTFT p50" in out.decode()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["overall"]["completed"] == 10


async def test_a_target_without_the_admin_api_is_tolerated(lt_sim: SimServer) -> None:
    cfg = config(lt_sim, duration_s=None, requests=2, admin_key="sk-admin")
    result = await run_load(cfg)
    assert all(r.ok for r in result.records)
    assert result.gpus is None and result.usage is None
    assert any("/admin/state" in n for n in result.notes)
    assert any("/admin/usage" in n for n in result.notes)
