"""Command-line parsing into a RunConfig, through the real ``tokengate`` parser."""

from __future__ import annotations

import pytest

from gateway.cli import build_parser
from loadtest.cli import config_from_args, parse_slo, parse_tiers
from loadtest.config import RunConfig, parse_duration
from loadtest.lengths import LognormalLength
from loadtest.profiles import GammaProfile, SweepProfile


def parse(*argv: str) -> RunConfig:
    base = ["loadtest", "--base-url", "http://localhost:8080", "--model", "M"]
    return config_from_args(build_parser().parse_args([*base, *argv]))


def test_the_basic_call() -> None:
    cfg = parse("--api-key", "sk-1", "--profile", "poisson", "--rate", "10", "--duration", "30s")
    assert cfg.profile.kind == "poisson" and cfg.profile.rate == 10  # type: ignore[union-attr]
    assert cfg.duration_s == 30.0
    assert [(t.name, t.api_key, t.share) for t in cfg.tiers] == [("default", "sk-1", 1.0)]
    assert cfg.stream and cfg.ignore_eos and cfg.min_tokens
    assert cfg.api_base == "http://localhost:8080/v1"


def test_tier_mix_gamma_lengths_and_switches() -> None:
    cfg = parse(
        "--api-key",
        "fast=sk-demo-fast:0.2",
        "--api-key",
        "economy=sk-demo-economy:0.8",
        "--profile",
        "gamma",
        "--rate",
        "5",
        "--cv",
        "3",
        "--requests",
        "100",
        "--prompt-tokens",
        "lognormal:300:0.5",
        "--no-stream",
        "--no-ignore-eos",
        "--slo",
        "ttft_ms=500,tpot_ms=40",
        "--warmup",
        "2m",
        "--max-concurrency",
        "64",
    )
    assert [(t.name, t.api_key, t.share) for t in cfg.tiers] == [
        ("fast", "sk-demo-fast", 0.2),
        ("economy", "sk-demo-economy", 0.8),
    ]
    assert cfg.profile == GammaProfile(rate=5, cv=3, max_concurrency=64)
    assert cfg.prompt_tokens == LognormalLength(mean=300, sigma=0.5)
    assert not cfg.stream and not cfg.ignore_eos
    assert cfg.slo is not None and cfg.slo.ttft_ms == 500 and cfg.slo.e2e_ms is None
    assert cfg.warmup_s == 120.0


def test_sweep_arguments() -> None:
    cfg = parse("--profile", "sweep", "--sweep-concurrency", "1,4,16", "--duration", "10s")
    assert isinstance(cfg.profile, SweepProfile)
    assert cfg.profile.arrival == "concurrency" and cfg.profile.loads == [1, 4, 16]


@pytest.mark.parametrize(
    "argv",
    [
        ("--profile", "poisson", "--duration", "5s"),  # no rate
        ("--profile", "concurrency", "--duration", "5s"),  # no users
        ("--profile", "poisson", "--rate", "1"),  # no duration or count
        ("--profile", "sweep", "--duration", "5s"),  # no loads
        ("--profile", "poisson", "--rate", "1", "--duration", "soon"),
    ],
)
def test_incomplete_commands_are_refused(argv: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        parse(*argv)


def test_parse_tiers_splits_missing_shares() -> None:
    tiers = parse_tiers(["a=k1:0.5", "b=k2", "c=k3"])
    assert [t["share"] for t in tiers] == [0.5, 0.25, 0.25]
    assert parse_tiers(["k:with:colons"])[0]["api_key"] == "k:with:colons"


def test_parse_slo_forms() -> None:
    assert parse_slo("ttft_ms=500,tpot=50,e2el:9000") == {
        "ttft_ms": 500.0,
        "tpot_ms": 50.0,
        "e2e_ms": 9000.0,
    }
    with pytest.raises(ValueError):
        parse_slo("latency=5")


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("2m", 120), ("500ms", 0.5), ("1.5h", 5400), ("45", 45)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
