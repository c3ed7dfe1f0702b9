"""The SSE decoder yields whole events however the bytes are split."""

from __future__ import annotations

import pytest

from loadtest.sse import SSEDecoder

STREAM = (
    b": ping\n\n"
    b'data: {"a":1}\n\n'
    b'event: message\r\ndata: {"b":2}\r\n\r\n'
    b"data: line one\ndata: line two\n\n"
    b"id: 7\nretry: 10\n\n"
    b"data: [DONE]\n\n"
)
EVENTS = [b'{"a":1}', b'{"b":2}', b"line one\nline two", b"[DONE]"]


def decode(chunks: list[bytes]) -> list[bytes]:
    d = SSEDecoder()
    out = [e for c in chunks for e in d.feed(c)]
    return out + d.flush()


def test_whole_stream() -> None:
    assert decode([STREAM]) == EVENTS


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 64])
def test_any_split(size: int) -> None:
    assert decode([STREAM[i : i + size] for i in range(0, len(STREAM), size)]) == EVENTS


def test_flush_delivers_an_unterminated_last_event() -> None:
    assert decode([b"data: x\n\ndata: tail"]) == [b"x", b"tail"]
    assert decode([b"data: x\n"]) == [b"x"]


def test_data_without_space() -> None:
    assert decode([b"data:x\n\n"]) == [b"x"]
