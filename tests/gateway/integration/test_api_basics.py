"""The OpenAI surface through the gateway with the official SDK: models, chat, completions."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.fixtures.stack import KEYS, MODEL, gateway_stack


async def test_models_list_and_retrieve() -> None:
    async with gateway_stack(n_sims=1) as stack:
        client = stack.client(KEYS["fast"])
        listed = await client.models.list()
        assert [m.id for m in listed.data] == [MODEL]
        one = await client.models.retrieve(MODEL)
        assert one.id == MODEL and one.object == "model"
        with pytest.raises(openai.NotFoundError) as err:
            await client.models.retrieve("no-such-model")
        assert err.value.body["code"] == "model_not_found"


async def test_chat_whole_and_streamed_with_and_without_usage() -> None:
    async with gateway_stack(n_sims=1, time_scale=200) as stack:
        client = stack.client(KEYS["fast"])
        whole = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hi there"}], max_tokens=5
        )
        assert whole.object == "chat.completion"
        assert whole.usage is not None and whole.usage.completion_tokens == 5
        assert whole.choices[0].finish_reason == "length"

        stream = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Hi there"}],
            max_tokens=5,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [c async for c in stream]
        usage = [c for c in chunks if c.usage is not None]
        assert len(usage) == 1 and usage[0] is chunks[-1] and not usage[0].choices
        assert usage[0].usage.completion_tokens == 5 and usage[0].usage.prompt_tokens > 0

        # Not asked for: the gateway still asks the engine (metering), but strips it.
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Hi there"}],
            max_tokens=5,
            stream=True,
        )
        chunks = [c async for c in stream]
        assert all(c.usage is None for c in chunks)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == whole.choices[0].message.content
        assert chunks[-1].choices[0].finish_reason == "length"


async def test_completions_whole_and_streamed() -> None:
    async with gateway_stack(n_sims=1, time_scale=200) as stack:
        client = stack.client(KEYS["fast"])
        whole = await client.completions.create(
            model=MODEL, prompt="Once upon a time", max_tokens=6
        )
        assert whole.object == "text_completion"
        assert whole.usage is not None and whole.usage.completion_tokens == 6
        stream = await client.completions.create(
            model=MODEL,
            prompt="Once upon a time",
            max_tokens=6,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [c async for c in stream]
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6
        text = "".join(c.choices[0].text for c in chunks if c.choices)
        assert text == whole.choices[0].text
        stream = await client.completions.create(
            model=MODEL, prompt="Once upon a time", max_tokens=6, stream=True
        )
        assert all(c.usage is None for c in [c async for c in stream])


async def test_content_parts_extra_params_and_stop() -> None:
    async with gateway_stack(n_sims=1, time_scale=200) as stack:
        client = stack.client(KEYS["fast"])
        parts = await client.chat.completions.create(
            model=MODEL,
            messages=[
                {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Hello"},
                        {"type": "text", "text": "again"},
                    ],
                },
            ],
            max_tokens=4,
            extra_body={"top_k": 20, "ignore_eos": False},  # engine extensions pass through
        )
        assert parts.usage is not None and parts.usage.completion_tokens == 4

        # A stop string from the text the engine would write cuts the answer there.
        full = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Tell a story"}],
            max_tokens=12,
            seed=1,
        )
        words = (full.choices[0].message.content or "").split()
        assert len(words) >= 4
        stopped = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Tell a story"}],
            max_tokens=12,
            seed=1,
            stop=[words[3]],
        )
        assert stopped.choices[0].finish_reason == "stop"
        content = stopped.choices[0].message.content or ""
        assert words[3] not in content.split() and len(content) < len(
            full.choices[0].message.content or ""
        )


async def test_n_above_one_reaches_the_engine() -> None:
    """The simulator serves n=1 only: its 400 (with ``param``) comes back in OpenAI's shape."""
    async with gateway_stack(n_sims=1, time_scale=200) as stack:
        client = stack.client(KEYS["fast"])
        with pytest.raises(openai.BadRequestError) as err:
            await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=3, n=2
            )
        assert err.value.body["param"] == "n"
        assert set(err.value.body) == {"message", "type", "param", "code"}
        # and the gateway goes on serving
        ok = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=3
        )
        assert ok.choices[0].message.content


async def test_model_names_with_a_slash() -> None:
    slashed = "acme/llama-3.1-8b-tuned"

    def two_names(tree: dict[str, Any]) -> None:
        for b in tree["backends"]:
            b["models"][slashed] = b["models"][MODEL]
        tree["models"][slashed] = {"max_context": 8192}

    async with gateway_stack(n_sims=1, time_scale=200, patch=two_names) as stack:
        client = stack.client(KEYS["fast"])
        assert {m.id for m in (await client.models.list()).data} == {MODEL, slashed}
        assert (await client.models.retrieve(slashed)).id == slashed
        out = await client.chat.completions.create(
            model=slashed, messages=[{"role": "user", "content": "Hi"}], max_tokens=2
        )
        assert out.choices[0].message.content
