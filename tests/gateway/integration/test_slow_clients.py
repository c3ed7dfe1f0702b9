"""Slow clients on raw sockets: headers and bodies have deadlines (slowloris), answered or cut."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from tests.fixtures.stack import KEYS, MODEL, gateway_stack

HEADER_S = 0.5
BODY_S = 0.5
SLACK_S = 10.0  # generous: the machine may be busy; the point is "cut", not "cut on the dot"


def _deadlines(tree: dict[str, Any]) -> None:
    tree["server"]["header_timeout_s"] = HEADER_S
    tree["server"]["body_timeout_s"] = BODY_S


async def _closed_after(reader: asyncio.StreamReader) -> tuple[float, bytes]:
    start = time.monotonic()
    data = await asyncio.wait_for(reader.read(), SLACK_S + 5)
    return time.monotonic() - start, data


async def test_stalled_headers_are_cut_after_the_header_deadline() -> None:
    async with gateway_stack(n_sims=1, patch=_deadlines) as stack:
        port = stack.running.port
        # half the headers, then silence
        r, w = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        w.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: app")
        await w.drain()
        _, data = await _closed_after(r)
        elapsed = time.monotonic() - started
        assert data == b"" and HEADER_S * 0.8 <= elapsed < HEADER_S + SLACK_S
        w.close()

        # a header byte every 100 ms: the deadline is for the whole header block, not per byte
        r, w = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        drip = b"GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Drip: " + b"a" * 1000
        for byte in drip:
            if r.at_eof():
                break
            w.write(bytes([byte]))
            await asyncio.sleep(0.1)
        assert r.at_eof()
        assert time.monotonic() - started < 60
        w.close()

        # and a connection that never says anything
        r, w = await asyncio.open_connection("127.0.0.1", port)
        elapsed, data = await _closed_after(r)
        assert data == b"" and elapsed < HEADER_S + SLACK_S
        w.close()


async def test_stalled_body_gets_408_and_the_connection_is_closed() -> None:
    async with gateway_stack(n_sims=1, patch=_deadlines) as stack:
        r, w = await asyncio.open_connection("127.0.0.1", stack.running.port)
        started = time.monotonic()
        w.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n"
            + f"Authorization: Bearer {KEYS['fast']}\r\n".encode()
            + b'Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"model":'
        )
        await w.drain()
        status_line = await asyncio.wait_for(r.readline(), SLACK_S)
        assert status_line.startswith(b"HTTP/1.1 408"), status_line
        assert time.monotonic() - started >= BODY_S * 0.8
        head, _, body = (await asyncio.wait_for(r.read(), SLACK_S + 5)).partition(b"\r\n\r\n")
        assert b"x-request-id: req_" in head.lower()
        assert b"connection: close" in head.lower()
        assert json.loads(body)["error"]["code"] == "body_timeout"
        assert time.monotonic() - started < BODY_S * 2 + SLACK_S
        w.close()

        # the gateway serves on
        ok = await stack.client().chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=2
        )
        assert ok.choices[0].message.content
