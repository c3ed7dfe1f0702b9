"""The names ``gateway.state`` exports, pinned, and the layering rules of the package."""

from __future__ import annotations

import ast
from pathlib import Path

import gateway.state

PURE_MODULES = (
    "gcra",
    "periods",
    "usage",
    "report",
    "keys",
    "store",
    "memory",
    "memory_ledger",
    "fallback",
    "spool",
)


def test_exported_names_are_pinned() -> None:
    assert sorted(gateway.state.__all__) == [
        "Budget",
        "BudgetDecision",
        "Clock",
        "MemoryStore",
        "RateDecision",
        "RateLimits",
        "ReportGroup",
        "SlotGrant",
        "SlotListener",
        "StateConfig",
        "Store",
        "StoreStatus",
        "StoreUnavailableError",
        "UsageFilter",
        "UsageReport",
        "UsageTotals",
        "mask_url",
        "store_from_config",
    ]


def test_the_memory_side_never_imports_redis() -> None:
    package = Path(gateway.state.__file__).parent
    for name in PURE_MODULES:
        tree = ast.parse((package / f"{name}.py").read_text())
        imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
        }
        assert not any(m.split(".")[0] in {"redis", "aiohttp"} for m in imported), name
        assert not any(m.startswith("gateway.state.redis") for m in imported), name
