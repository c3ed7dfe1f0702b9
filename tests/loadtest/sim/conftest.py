"""Simulated servers for the HTTP tests: fast (time-scaled), on free ports, always stopped."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from openai import AsyncOpenAI

from loadtest.sim.server import SimServer

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
WAIT_S = 10.0  # an upper bound for event waits, never a pacing sleep


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer("h100-llama3.1-8b", MODEL, time_scale=200.0, seed=0) as s:
        yield s


@pytest.fixture
async def slow_sim() -> AsyncIterator[SimServer]:
    """Real time: a long generation is still running whenever the test looks at it."""
    async with SimServer("h100-llama3.1-8b", MODEL, time_scale=1.0, seed=0) as s:
        yield s


@pytest.fixture
async def client(sim: SimServer) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(base_url=sim.url + "/v1", api_key="x", max_retries=0) as c:
        yield c


async def until(sim: SimServer, predicate: Callable[[], bool]) -> None:
    """Wait for engine state, woken by the engine itself (bounded so a bug fails, not hangs)."""
    await asyncio.wait_for(sim.wait_for(predicate), WAIT_S)


async def raw_post(sim: SimServer, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(sim.url + path, json=body) as resp,
    ):
        return resp.status, await resp.read()


async def raw_get(sim: SimServer, path: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session, session.get(sim.url + path) as resp:
        return resp.status, await resp.read()


def sse_events(raw: bytes) -> list[Any]:
    """The ``data:`` payloads of an SSE body, JSON-decoded except ``[DONE]``."""
    out: list[Any] = []
    for event in raw.decode().split("\n\n"):
        if not event:
            continue
        assert event.startswith("data: "), event
        payload = event[len("data: ") :]
        out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out
