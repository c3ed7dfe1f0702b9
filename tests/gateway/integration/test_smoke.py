"""The smallest end-to-end path: the openai SDK through the gateway to a simulated GPU."""

from __future__ import annotations

from tests.fixtures.stack import KEYS, MODEL, gateway_stack


async def test_chat_round_trip_streamed_and_whole() -> None:
    async with gateway_stack() as stack:
        client = stack.client(KEYS["fast"])
        whole = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hello"}], max_tokens=7
        )
        assert whole.usage is not None and whole.usage.completion_tokens == 7
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Hello"}],
            max_tokens=7,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [c async for c in stream]
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 7
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == whole.choices[0].message.content
