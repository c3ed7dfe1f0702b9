"""The pure parts of the simulator import no I/O stack; the CLI wires up."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gateway.cli import build_parser
from loadtest.sim.presets import PRESETS

PURE = ["model", "engine", "presets", "virtual", "text", "tokens", "protocol", "responses"]


def test_pure_modules_import_no_io_stack() -> None:
    imports = "; ".join(f"import loadtest.sim.{m}" for m in PURE)
    check = "import sys; bad = {'aiohttp', 'redis'} & set(sys.modules); assert not bad, bad"
    subprocess.run([sys.executable, "-c", f"{imports}; {check}"], check=True, timeout=60)


def test_sim_subcommand_parses_its_options() -> None:
    args = build_parser().parse_args(
        [
            "sim",
            "--preset",
            "h100x4-llama3.1-70b",
            "--port",
            "9001",
            "--time-scale",
            "10",
            "--model",
            "a",
            "--model",
            "b",
            "--seed",
            "3",
            "--max-num-seqs",
            "128",
        ]
    )
    assert (args.preset, args.port, args.time_scale, args.model) == (
        "h100x4-llama3.1-70b",
        9001,
        10.0,
        ["a", "b"],
    )
    assert (args.seed, args.max_num_seqs, args.host) == (3, 128, "127.0.0.1")


def test_list_presets(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["sim", "--list-presets"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in PRESETS)
    assert {"h100-llama3.1-8b", "h100x4-llama3.1-70b", "zero-delay"} <= set(PRESETS)


def test_unknown_preset_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["sim", "--preset", "tpu-v9"])
    assert args.func(args) == 2
    assert "valid:" in capsys.readouterr().out
