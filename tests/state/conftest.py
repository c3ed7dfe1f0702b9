"""Fixtures of the state tests: the contract suite runs every test against both stores."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.state.memory import MemoryStore
from gateway.state.redis_store import RedisStore
from gateway.state.store import Store
from tests.state.fakes import FakeClock
from tests.state.redis_setup import redis_config


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(
    request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Store]:
    """A started store driven by the fake clock (the Redis scripts take it instead of TIME)."""
    built: Store
    if request.param == "memory":
        built = MemoryStore(clock=clock)
    else:
        server = request.getfixturevalue("redis_server")
        built = RedisStore(redis_config(server.url, tmp_path), clock=clock)
    await built.start()
    yield built
    await built.close()
