"""The SSE codec: events split anywhere, CRLF, comments, multi-line data; chunk classification."""

from __future__ import annotations

import json

import pytest

from gateway.streaming.sse import (
    DONE,
    SSEDecoder,
    carries_tokens,
    engine_error_of,
    error_frame,
    frame,
    usage_of,
)

STREAM = (
    b'data: {"a":1}\n\n'
    b": ping\n\n"
    b'data: {"b":\n'
    b"data: 2}\n\n"
    b'event: message\r\ndata: {"c":3}\r\n\r\n'
    b"data: [DONE]\n\n"
)


@pytest.mark.parametrize("step", [1, 2, 3, 7, 64, len(STREAM)])
def test_decoder_yields_the_same_events_however_the_bytes_are_split(step: int) -> None:
    dec = SSEDecoder()
    events: list[bytes] = []
    for i in range(0, len(STREAM), step):
        events += dec.feed(STREAM[i : i + step])
    assert events == [b'{"a":1}', b'{"b":\n2}', b'{"c":3}', b"[DONE]"]
    assert dec.pending() == b""


def test_decoder_keeps_an_unfinished_event() -> None:
    dec = SSEDecoder()
    assert dec.feed(b'data: {"a":1}\n\ndata: {"par') == [b'{"a":1}']
    assert dec.pending() == b'data: {"par'


def test_frames() -> None:
    assert frame(b"x") == b"data: x\n\n"
    assert DONE == b"data: [DONE]\n\n"
    body = {"error": {"message": "m", "type": "t", "param": None, "code": None}}
    assert json.loads(error_frame(body)[6:]) == body


@pytest.mark.parametrize(
    ("chunk", "expected"),
    [
        (b'{"choices":[{"delta":{"role":"assistant","content":""}}]}', False),
        (b'{"choices":[{"delta":{"content":" the"}}]}', True),
        (b'{"choices":[{"delta":{"content": "x"}}]}', True),
        (b'{"choices":[{"delta":{},"finish_reason":"length"}]}', False),
        (b'{"choices":[{"text":"hi","index":0}]}', True),
        (b'{"choices":[{"text":"","finish_reason":"stop"}]}', False),
        (b'{"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}', True),
        (b'{"choices":[{"delta":{"reasoning_content":"hmm"}}]}', True),
        (b'{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}', False),
        (b'{"choices":[{"delta":{"content":"\\""}}]}', True),  # an escaped quote is content
    ],
)
def test_carries_tokens(chunk: bytes, expected: bool) -> None:
    assert carries_tokens(chunk) is expected


def test_usage_of() -> None:
    usage, parsed = usage_of(b'{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}')
    assert usage == {"prompt_tokens": 3, "completion_tokens": 4}
    assert parsed is not None and parsed["choices"] == []
    assert usage_of(b'{"choices":[{"delta":{"content":"a"}}],"usage":null}') == (None, None)
    assert usage_of(b'{"choices":[{"delta":{"content":"usage"}}]}') == (None, None)


def test_engine_error_of() -> None:
    assert engine_error_of(b'{"error":{"message":"boom","code":500}}') == {
        "error": {"message": "boom", "code": 500}
    }
    assert engine_error_of(b'{"choices":[{"delta":{"content":"error"}}]}') is None
