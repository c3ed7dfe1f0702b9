"""The public API is pinned, and the pure modules stay free of I/O libraries."""

from __future__ import annotations

import subprocess
import sys

import pytest

import loadtest

PUBLIC = [
    "ConcurrencyProfile",
    "ConstantProfile",
    "GammaProfile",
    "LiveStats",
    "PoissonProfile",
    "RequestRecord",
    "RunConfig",
    "RunResult",
    "SLO",
    "SaturationRule",
    "SweepProfile",
    "SweepResult",
    "Tier",
    "make_session",
    "run_and_write",
    "run_load",
    "run_sweep",
    "summarize",
    "write_outputs",
]


def test_exported_names() -> None:
    assert sorted(loadtest.__all__) == sorted(PUBLIC)
    assert set(loadtest.__all__) == set(loadtest._EXPORTS)
    for name in PUBLIC:
        assert getattr(loadtest, name) is not None
    with pytest.raises(AttributeError):
        _ = loadtest.nothing_here  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "module",
    [
        "loadtest.metrics",
        "loadtest.arrivals",
        "loadtest.summary",
        "loadtest.lengths",
        "loadtest.sse",
        "loadtest.cost",
        "loadtest.plan",
        "loadtest.cli",
        "loadtest.table",
    ],
)
def test_pure_modules_import_no_network_or_plotting(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = [m for m in ('aiohttp', 'redis', 'matplotlib') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
