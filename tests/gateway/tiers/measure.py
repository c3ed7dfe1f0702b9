"""Client-side timing of one request through the official SDK: from send to first content byte.

The clock starts just before the SDK sends and stops when a chunk with content text is
parsed, so the measurement includes everything the gateway does (and the network).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import openai

from tests.fixtures.stack import MODEL


@dataclass
class Timed:
    """One request as the client saw it; times are seconds after the send."""

    ttft: float
    total: float
    headers: Mapping[str, str]
    content_at: list[float] = field(default_factory=list)  # one entry per content chunk
    text: str = ""
    completion_tokens: int | None = None


def chat_args(max_tokens: int = 8, content: str = "Say something.", **kw: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": max_tokens,
        **kw,
    }


async def streamed(client: openai.AsyncOpenAI, **kw: Any) -> Timed:
    """A streamed chat completion; TTFT is the first chunk that carries content text."""
    args = chat_args(**kw)
    started = time.monotonic()
    raw = await client.chat.completions.with_raw_response.create(
        **args, stream=True, stream_options={"include_usage": True}
    )
    stream = raw.parse()
    content_at: list[float] = []
    text: list[str] = []
    usage = None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage.completion_tokens
        if chunk.choices and chunk.choices[0].delta.content:
            content_at.append(time.monotonic() - started)
            text.append(chunk.choices[0].delta.content)
    total = time.monotonic() - started
    assert content_at, "the stream carried no content"
    return Timed(content_at[0], total, raw.headers, content_at, "".join(text), usage)


async def whole(client: openai.AsyncOpenAI, **kw: Any) -> Timed:
    """A non-streamed chat completion: its first content byte is its body."""
    started = time.monotonic()
    raw = await client.chat.completions.with_raw_response.create(**chat_args(**kw))
    total = time.monotonic() - started
    completion = raw.parse()
    assert completion.choices[0].message.content
    usage = completion.usage.completion_tokens if completion.usage else None
    return Timed(total, total, raw.headers, [total], completion.choices[0].message.content, usage)


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (no interpolation: a reported value was really observed)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[rank]
