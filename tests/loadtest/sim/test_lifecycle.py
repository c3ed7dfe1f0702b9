"""Clients that leave, servers that crash and come back, injected failures, and /metrics."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from openai import AsyncOpenAI

from loadtest.sim.server import SimServer
from tests.loadtest.sim.conftest import MODEL, raw_get, raw_post, until

MESSAGES = [{"role": "user", "content": "Write a very long story."}]
LONG = 100_000  # tokens: minutes of real time, so it is running whenever the test looks


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exported")


async def test_stream_disconnect_aborts_the_sequence(slow_sim: SimServer) -> None:
    sim = slow_sim
    async with AsyncOpenAI(base_url=sim.url + "/v1", api_key="x", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, max_tokens=LONG, stream=True
        )
        async for chunk in stream:
            if chunk.choices[0].delta.content:
                break  # the first token is out: the sequence is decoding
        assert sim.engine.num_running == 1
        await stream.close()
        await until(sim, lambda: sim.engine.num_running == 0)
    assert sim.engine.counters.aborted == 1
    assert sim.engine.kv_cache_usage == 0.0


async def test_non_streaming_disconnect_aborts_the_sequence(slow_sim: SimServer) -> None:
    sim = slow_sim
    body = json.dumps({"model": MODEL, "messages": MESSAGES, "max_tokens": LONG}).encode()
    reader, writer = await asyncio.open_connection(sim.host, sim.port)
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    await writer.drain()
    await until(sim, lambda: sim.engine.num_running == 1)
    writer.close()
    await writer.wait_closed()
    await until(sim, lambda: sim.engine.num_running == 0 and sim.engine.num_waiting == 0)
    assert sim.engine.counters.aborted == 1
    assert await reader.read() == b""  # nothing was ever answered


async def test_kill_breaks_the_stream_and_restart_serves_again(slow_sim: SimServer) -> None:
    sim = slow_sim
    url = sim.url
    async with AsyncOpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, max_tokens=LONG, stream=True
        )
        first = await anext(aiter(stream))
        assert first.choices[0].delta.role == "assistant"
        await sim.kill()
        with pytest.raises(openai.APIConnectionError):  # the SDK's wrap of a reset stream
            async for _ in stream:
                pass
        assert sim.engine.num_running == 0 and not sim.engine.has_work
        with pytest.raises(openai.APIConnectionError):
            await client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=1)
        await sim.restart()
        assert sim.url == url
        r = await client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=2)
        assert r.usage is not None and r.usage.completion_tokens == 2


async def test_stop_ends_a_live_stream_in_band(slow_sim: SimServer) -> None:
    sim = slow_sim
    async with AsyncOpenAI(base_url=sim.url + "/v1", api_key="x", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, max_tokens=LONG, stream=True
        )
        await anext(aiter(stream))
        await sim.stop()
        with pytest.raises(openai.APIError):  # data: {"error": ...}: the SDK raises on it
            async for _ in stream:
                pass


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_fail_next_then_recover(sim: SimServer, client: AsyncOpenAI, status: int) -> None:
    sim.fail_next(2, status=status)
    for _ in range(2):
        with pytest.raises(openai.APIStatusError) as info:
            await client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=1)
        assert info.value.status_code == status
        body = info.value.body
        assert isinstance(body, dict) and body["code"] == status  # the SDK unwraps "error"
        assert set(body) == {"message", "type", "param", "code"}
    r = await client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=1)
    assert r.choices[0].finish_reason == "length"


async def test_metrics_follow_the_engine(slow_sim: SimServer) -> None:
    sim = slow_sim
    async with AsyncOpenAI(base_url=sim.url + "/v1", api_key="x", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, max_tokens=LONG, stream=True
        )
        await anext(aiter(stream))
        _, raw = await raw_get(sim, "/metrics")
        text = raw.decode()
        assert metric(text, "vllm:num_requests_running") == 1
        assert metric(text, "vllm:num_requests_waiting") == 0
        assert 0 < metric(text, "vllm:kv_cache_usage_perc") < 1
        assert metric(text, "vllm:prompt_tokens_total") > 0
        assert metric(text, "vllm:generation_tokens_total") >= 1
        await stream.close()
        await until(sim, lambda: sim.engine.num_running == 0)
    _, raw = await raw_get(sim, "/metrics")
    assert metric(raw.decode(), "vllm:num_requests_running") == 0
    assert metric(raw.decode(), "vllm:request_aborted_total") == 1


async def test_two_servers_in_one_process_keep_their_own_metrics() -> None:
    async with (
        SimServer("zero-delay", "a", time_scale=float("inf")) as one,
        SimServer("zero-delay", "b", time_scale=float("inf")) as two,
    ):
        body = {"model": "a", "messages": MESSAGES, "max_tokens": 3}
        assert (await raw_post(one, "/v1/chat/completions", body))[0] == 200
        _, a = await raw_get(one, "/metrics")
        _, b = await raw_get(two, "/metrics")
    assert metric(a.decode(), "vllm:generation_tokens_total") == 3
    assert metric(b.decode(), "vllm:generation_tokens_total") == 0
    assert 'model_name="b"' in b.decode()


async def test_waiting_requests_beyond_max_num_seqs() -> None:
    async with (
        SimServer("h100-llama3.1-8b", MODEL, time_scale=1.0, max_num_seqs=2) as sim,
        AsyncOpenAI(base_url=sim.url + "/v1", api_key="x", max_retries=0) as client,
    ):
        tasks = [
            asyncio.create_task(
                client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=LONG)
            )
            for _ in range(3)
        ]
        await until(sim, lambda: (sim.engine.num_running, sim.engine.num_waiting) == (2, 1))
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await until(sim, lambda: not sim.engine.has_work)
