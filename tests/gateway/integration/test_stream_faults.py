"""Streams that break: the engine dies mid-stream (reported in-band, never retried), or the
client leaves (the engine stops generating and the gateway's slot comes back)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import openai
import pytest

from loadtest.sim.server import SimServer
from tests.fixtures.stack import KEYS, MODEL, Stack, gateway_stack

LONG = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "Write a long story"}],
    "max_tokens": 1500,
}


def _untouched(sim: SimServer) -> bool:
    e = sim.engine
    return e.counters.finished == 0 and e.counters.aborted == 0 and not e.has_work


async def _read_events(resp: aiohttp.ClientResponse, until_content: bool) -> list[bytes]:
    """SSE ``data`` payloads; with ``until_content``, stop after the first one with output."""
    events: list[bytes] = []
    buf = b""
    async for chunk in resp.content.iter_any():
        buf += chunk
        while b"\n\n" in buf:
            ev, buf = buf.split(b"\n\n", 1)
            assert ev.startswith(b"data: "), ev
            events.append(ev[6:])
            if until_content and b'"content":"' in ev[6:] and b'"content":""' not in ev[6:]:
                return events
    return events


async def test_engine_death_mid_stream_ends_with_error_event_and_done() -> None:
    # time_scale 1: a 1500-token answer takes seconds, so the kill lands mid-stream.
    async with gateway_stack(n_sims=2, time_scale=1.0) as stack, aiohttp.ClientSession() as s:
        auth = {"Authorization": f"Bearer {KEYS['fast']}"}
        async with s.post(
            stack.url + "/v1/chat/completions", json={**LONG, "stream": True}, headers=auth
        ) as resp:
            assert resp.status == 200
            backend = resp.headers["x-tokengate-backend"]
            first = await _read_events(resp, until_content=True)
            victim = stack.sims[int(backend.removeprefix("sim"))]
            other = stack.sims[1 - int(backend.removeprefix("sim"))]
            await victim.kill()
            rest = await _read_events(resp, until_content=False)
        events = first + rest
        assert events[-1] == b"[DONE]"
        error = json.loads(events[-2])
        assert set(error) == {"error"} and set(error["error"]) == {
            "message",
            "type",
            "param",
            "code",
        }
        assert "127.0.0.1" not in events[-2].decode()
        assert all(b'"error"' not in e for e in events[:-2])
        # Bytes had reached the client: the request must not have been re-run elsewhere.
        assert _untouched(other)
        await stack.settle()
        # The SDK raises on the in-band error rather than ending as if all was well.
        await victim.restart()
        await stack.gateway.health.probe_all()
        client = stack.client()
        stream = await client.chat.completions.create(**LONG, stream=True)
        got = 0
        async with stream:  # closes the connection the error left open
            with pytest.raises(openai.APIError):
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        got += 1
                        if got == 1:
                            backend_sim = (
                                stack.sims[0] if stack.backend("sim0").inflight else stack.sims[1]
                            )
                            await backend_sim.kill()
        assert got >= 1
        await stack.settle()


async def _freed(stack: Stack, sim: SimServer) -> None:
    await sim.wait_for(lambda: not sim.engine.has_work)
    await stack.wait_backends(lambda bs: all(b.inflight == 0 for b in bs))


async def test_client_leaving_a_stream_frees_the_engine_and_the_slot() -> None:
    async with gateway_stack(n_sims=1, time_scale=1.0) as stack:
        sim = stack.sims[0]
        client = stack.client()
        for endpoint in ("chat", "completions"):
            if endpoint == "chat":
                stream: Any = await client.chat.completions.create(**LONG, stream=True)
            else:
                stream = await client.completions.create(
                    model=MODEL, prompt="Once", max_tokens=1500, stream=True
                )
            async for chunk in stream:
                if chunk.choices and (getattr(chunk.choices[0], "delta", None) or chunk.choices[0]):
                    break
            assert sim.engine.num_running == 1
            await stream.close()
            await _freed(stack, sim)
            assert sim.engine.counters.aborted >= 1
            assert sim.engine.counters.finished == 0


async def test_client_leaving_a_whole_response_frees_the_engine_and_the_slot() -> None:
    async with gateway_stack(n_sims=1, time_scale=1.0) as stack:
        sim = stack.sims[0]
        client = stack.client()
        task = asyncio.create_task(client.chat.completions.create(**LONG))
        await sim.wait_for(lambda: sim.engine.num_running == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _freed(stack, sim)
        assert sim.engine.counters.aborted == 1 and sim.engine.counters.finished == 0


async def test_client_leaving_during_the_ttft_floor_frees_the_engine() -> None:
    """The economy tier holds the first chunk for its floor; a client may leave meanwhile."""

    def long_floor(tree: dict[str, Any]) -> None:
        tree["tiers"]["economy"]["min_ttft_ms"] = 60_000
        tree["tiers"]["economy"]["batch"] = {"policy": "continuous"}

    async with gateway_stack(n_sims=1, time_scale=1.0, patch=long_floor) as stack:
        sim = stack.sims[0]
        client = stack.client(KEYS["economy"])
        task = asyncio.create_task(client.chat.completions.create(**LONG, stream=True))
        await sim.wait_for(lambda: sim.engine.counters.generation_tokens > 0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _freed(stack, sim)
        assert sim.engine.counters.aborted == 1
