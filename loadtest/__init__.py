"""Load generation, measurement and reports, and a simulated GPU inference server.

The public API, for ``tokengate compare`` and scripts::

    config = RunConfig(base_url=..., model=..., tiers=[Tier(api_key=...)],
                       profile=PoissonProfile(rate=10), duration_s=30, seed=0)
    result = await run_load(config)          # RunResult: records, timings, gateway usage
    summary = summarize(result)              # vLLM-named metrics, overall and per tier
    write_outputs(out_dir, result)           # summary.json, requests.jsonl/.csv, report.html

Names resolve lazily so that ``import loadtest.sim`` and the CLI do not load aiohttp, numpy
or matplotlib until they are used.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "RunConfig": "loadtest.config",
    "Tier": "loadtest.config",
    "SLO": "loadtest.config",
    "ConstantProfile": "loadtest.profiles",
    "PoissonProfile": "loadtest.profiles",
    "GammaProfile": "loadtest.profiles",
    "ConcurrencyProfile": "loadtest.profiles",
    "SweepProfile": "loadtest.profiles",
    "SaturationRule": "loadtest.profiles",
    "RequestRecord": "loadtest.record",
    "RunResult": "loadtest.result",
    "run_load": "loadtest.runner",
    "make_session": "loadtest.runner",
    "run_sweep": "loadtest.sweep",
    "SweepResult": "loadtest.sweep",
    "summarize": "loadtest.summary",
    "write_outputs": "loadtest.execute",
    "run_and_write": "loadtest.execute",
    "LiveStats": "loadtest.progress",
}

__all__ = [
    "SLO",
    "ConcurrencyProfile",
    "ConstantProfile",
    "GammaProfile",
    "LiveStats",
    "PoissonProfile",
    "RequestRecord",
    "RunConfig",
    "RunResult",
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'loadtest' has no attribute {name!r}")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return __all__
