"""Leaked sockets fail the test that leaked them, not whichever test the collector runs in."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    yield
    gc.collect()  # an unclosed transport warns here, in this test's teardown
