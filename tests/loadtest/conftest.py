"""Fixtures for the load-tester tests: the real simulated server, sped up."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from loadtest.sim.server import SimServer

MODEL = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.fixture
async def lt_sim() -> AsyncIterator[SimServer]:
    """The H100 / Llama-3.1-8B simulator at 20x real time: a 0.5 s generation takes 25 ms."""
    async with SimServer(preset="h100-llama3.1-8b", model=MODEL, time_scale=20.0, seed=0) as server:
        yield server
