"""Metering logic is pure: no event loop, network, store, metrics client or clock of its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import gateway.metering

PURE = ("pricing.py", "attribution.py", "reserve.py", "economics.py")
ALLOWED = {
    "__future__",
    "collections.abc",
    "dataclasses",
    "decimal",
    "fractions",
    "math",
    "typing",
    "gateway.metering.pricing",
    "gateway.metering.record",
    "gateway.metering.reserve",
}


@pytest.mark.parametrize("name", PURE)
def test_imports_only_pure_modules(name: str) -> None:
    tree = ast.parse((Path(gateway.metering.__file__).parent / name).read_text())
    imported = {
        n.name for node in ast.walk(tree) if isinstance(node, ast.Import) for n in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= ALLOWED, imported - ALLOWED
