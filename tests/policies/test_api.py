"""The public API of ``policies`` is pinned, and policies stay pure (no I/O libraries)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import policies

PACKAGE = Path(policies.__file__).parent
ROOT = PACKAGE.parent

EXPORTED = {
    # the contract
    "QueuePolicy", "BatchPolicy", "RoutePolicy", "BackendView", "EngineLoad", "QueueView",
    "Release", "Ticket", "Usage", "PolicyParams",
    # the registry
    "build", "factory", "resolve", "policy_names", "PolicyConfigError", "PolicyFactory",
    "PolicyKind", "BUILTINS", "ENTRY_POINT_GROUP",
    # the built-ins
    "FifoQueue", "PriorityQueue", "FairShareQueue", "ShortestJobQueue", "EarliestDeadlineQueue",
    "ContinuousBatcher", "WindowBatcher", "TokenBudgetBatcher",
    "RoundRobinRouter", "LeastLoadedRouter", "PrefixAffinityRouter", "EngineLoadRouter",
}  # fmt: skip

# Policies take values and return values: no network, no event loop, no clock of their own.
FORBIDDEN = {"aiohttp", "redis", "asyncio", "time", "random", "socket", "gateway", "loadtest"}


def test_exported_names_are_pinned() -> None:
    assert set(policies.__all__) == EXPORTED
    assert len(policies.__all__) == len(EXPORTED)
    for name in policies.__all__:
        assert getattr(policies, name) is not None


def test_every_builtin_is_exported() -> None:
    for classes in policies.BUILTINS.values():
        for cls in classes:
            assert getattr(policies, cls.__name__) is cls


def modules() -> list[str]:
    return sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in PACKAGE.rglob("*.py")
    )


def test_importing_every_policy_loads_neither_aiohttp_nor_redis() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'redis')]\n"
        "print(json.dumps(sorted(loaded)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert json.loads(out.stdout) == []


def test_no_policy_module_imports_io_or_clock_modules() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_modules_stay_small_and_say_what_they_hold() -> None:
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assert ast.get_docstring(ast.parse(text)), f"{path.name} needs a module docstring"
        assert len(text.splitlines()) <= 400, f"{path.name} is over 400 lines"
