"""Server-sent events, pure: bytes in, event payloads out, and the few frames the gateway writes.

The decoder tolerates what engines send: CRLF line ends, comment lines
(``: ping``), multi-line ``data:`` fields, and events split across reads.
"""

from __future__ import annotations

import json
from typing import Any

DONE = b"data: [DONE]\n\n"


def frame(data: bytes) -> bytes:
    return b"data: " + data + b"\n\n"


def error_frame(error: dict[str, Any]) -> bytes:
    """An in-band error: the OpenAI SDK raises on ``data: {"error": …}``.

    A stream that is just cut looks like success to the client.
    """
    return frame(json.dumps(error, separators=(",", ":")).encode())


class SSEDecoder:
    """Incremental decoder; ``feed`` returns the ``data`` payload of each completed event."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf:
            # Keep a trailing CR: its LF may arrive in the next read.
            tail = b"\r" if buf.endswith(b"\r") else b""
            buf = buf[: len(buf) - len(tail)].replace(b"\r\n", b"\n").replace(b"\r", b"\n") + tail
        events = buf.split(b"\n\n")
        self._buf = events.pop()
        # Every event of every stream passes here. When the only newlines are the separators
        # (one count per read, not a search per event), each ``data: `` event is one line.
        one_line = buf.count(b"\n") == 2 * len(events) + self._buf.count(b"\n")
        out = []
        for ev in events:
            if one_line and ev[:6] == b"data: ":
                out.append(ev[6:])
            elif (data := _event_data(ev)) is not None:
                out.append(data)
        return out

    def pending(self) -> bytes:
        """Bytes of an event the stream ended before finishing."""
        return self._buf


def _event_data(ev: bytes) -> bytes | None:
    parts = []
    for line in ev.split(b"\n"):
        if line.startswith(b"data:"):
            value = line[5:]
            parts.append(value[1:] if value.startswith(b" ") else value)
        # comments (":"), event:, id:, retry: carry nothing the relay needs
    return b"\n".join(parts) if parts else None


_TOKEN_FIELDS = (b'"content":', b'"text":', b'"reasoning_content":', b'"reasoning":')


def carries_tokens(data: bytes) -> bool:
    """Whether a completion chunk carries generated output (not a role-only or usage-only chunk).

    A byte scan, not a JSON parse: it runs for every chunk of every stream. The usual chunk,
    ``"content":"<text>"`` without spaces, is answered by one search.
    """
    i = data.find(b'"content":"')
    if i >= 0 and data[i + 11 : i + 12] not in (b'"', b""):
        return True
    if b'"tool_calls"' in data:
        return True
    for name in _TOKEN_FIELDS:
        start = 0
        while (i := data.find(name, start)) >= 0:
            j = i + len(name)
            while j < len(data) and data[j] in b" \t":
                j += 1
            # a non-empty string value: a quote followed by something other than a quote
            if data[j : j + 1] == b'"' and data[j + 1 : j + 2] not in (b'"', b""):
                return True
            start = j
    return False


def usage_of(data: bytes) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(usage, parsed chunk) when the chunk carries a non-null ``usage``; (None, None) otherwise."""
    # One search, from the end where engines put it: every chunk of a stream passes here.
    i = data.rfind(b'"usage":')
    if i < 0 or data[i + 8 : i + 13].lstrip()[:4] == b"null":
        return None, None
    try:
        parsed = json.loads(data)
    except ValueError:
        return None, None
    usage = parsed.get("usage") if isinstance(parsed, dict) else None
    return (usage, parsed) if isinstance(usage, dict) else (None, None)


def engine_error_of(data: bytes) -> dict[str, Any] | None:
    """The error object when an engine reports a failure in-band."""
    if b'"error"' not in data or b'"choices"' in data:
        return None
    try:
        parsed = json.loads(data)
    except ValueError:
        return None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict | str):
        return parsed
    return None
