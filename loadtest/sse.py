"""A minimal server-sent-events decoder: bytes in, the ``data`` payloads of whole events out.

Pure and incremental (``feed`` any split of the stream, then ``flush``). Comment lines
(``: ping``) and fields other than ``data`` are dropped; multi-line data is joined by ``\\n``
as the SSE spec says.
"""

from __future__ import annotations


class SSEDecoder:
    __slots__ = ("_buffer", "_data")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        """The payloads of every event completed by ``chunk``."""
        buffer = self._buffer + chunk if self._buffer else chunk
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()  # the unterminated tail, often b""
        events: list[bytes] = []
        data = self._data
        for raw in lines:
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if not line:
                if data:
                    events.append(data[0] if len(data) == 1 else b"\n".join(data))
                    data = self._data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
            # other fields (event:, id:, retry:) and comments (":") carry nothing we measure
        return events

    def flush(self) -> list[bytes]:
        """Events left when the stream ends without a final blank line."""
        events = self.feed(b"\n\n") if self._buffer or self._data else []
        self._buffer = b""
        return events
