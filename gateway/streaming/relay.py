"""The streaming relay: engine SSE in, client SSE out, with the tier's TTFT floor and speed cap.

Chunks are forwarded as they arrive (several that arrive in one read go out in
one write). The first chunk waits for the floor; output chunks then keep to the
speed cap. The engine is always asked for usage; its usage chunk reaches the
client only if the client asked.

The client's response is prepared (status and headers sent) with the first
write, not before: until then an engine failure is still an honest HTTP status
(502/504) and the request may be retried on another backend (``FailedBeforeFirstByte``).
After it, a failure ends the stream with an OpenAI error event and ``[DONE]``,
never a silent cut.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from gateway.errors import error_body
from gateway.streaming.pacing import Pacer
from gateway.streaming.sse import (
    DONE,
    SSEDecoder,
    carries_tokens,
    engine_error_of,
    error_frame,
    usage_of,
)


async def hold_until(when: float) -> None:
    """Sleep until ``when`` on the monotonic clock (looping: uvloop timers tick in whole ms)."""
    while (delay := when - time.monotonic()) > 0:  # noqa: ASYNC110 - a time, not an event
        await asyncio.sleep(delay)


class ClientGone(Exception):
    """The client closed its connection; the upstream request must be closed too."""


class FailedBeforeFirstByte(Exception):
    """The engine's stream broke before anything reached the client: answerable, retryable."""

    def __init__(self, reason: str, *, timeout: bool = False, engine_error: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timeout = timeout
        self.engine_error = engine_error  # the engine's in-band error event, when it sent one


@dataclass(slots=True)
class StreamResult:
    """What the relay saw; the caller owns it, so it stays readable after a cancellation."""

    first_token_at: float | None = None
    chunks_with_tokens: int = 0
    usage: dict | None = None
    failed: str | None = None  # why the engine's stream broke, if it did
    client_gone: bool = False  # the client closed its connection before the end


class _Client:
    """The client's response, prepared on its first write."""

    __slots__ = ("request", "response")

    def __init__(self, request: web.Request, response: web.StreamResponse) -> None:
        self.request = request
        self.response = response

    @property
    def started(self) -> bool:
        return self.response.prepared

    async def write(self, data: bytes) -> None:
        # aiohttp reports a closed client as a ConnectionResetError subclass that is also a
        # ClientConnectionError; keep it apart from engine failures.
        try:
            if not self.response.prepared:
                await self.response.prepare(self.request)
            await self.response.write(data)
        except ConnectionResetError as exc:
            raise ClientGone from exc

    async def close(self) -> None:
        try:
            await self.response.write_eof()
        except ConnectionResetError as exc:
            raise ClientGone from exc


async def relay_stream(
    upstream: aiohttp.ClientResponse,
    request: web.Request,
    response: web.StreamResponse,
    pacer: Pacer,
    *,
    include_usage: bool,
    on_tokens: Callable[[int, float], None] | None = None,
    result: StreamResult | None = None,
) -> StreamResult:
    """Copy the engine's stream to the client; returns what was seen (also when it breaks).

    Raises ``FailedBeforeFirstByte`` when the engine failed before the client got anything.
    A client that leaves is not an error: the result says so and the caller closes the
    upstream request so the engine stops generating.
    """
    result = result if result is not None else StreamResult()
    try:
        await _relay(
            upstream,
            _Client(request, response),
            pacer,
            include_usage=include_usage,
            on_tokens=on_tokens,
            result=result,
        )
    except ClientGone:
        result.client_gone = True
    return result


async def _relay(
    upstream: aiohttp.ClientResponse,
    client: _Client,
    pacer: Pacer,
    *,
    include_usage: bool,
    on_tokens: Callable[[int, float], None] | None,
    result: StreamResult,
) -> None:
    decoder = SSEDecoder()
    done = False
    timeout = False
    engine_error: dict | None = None
    out: list[bytes] = []
    paced = pacer.tokens_per_s is not None
    try:
        async for raw in upstream.content.iter_any():
            # Chunks of one read that no floor or cap holds back leave together: their tokens
            # are counted (pacer, meter) once per read, at the time they leave.
            batched = 0
            for event in decoder.feed(raw):
                data = event
                if done:
                    continue  # nothing after [DONE] or an error event is relayed
                if data == b"[DONE]":
                    done = True
                    continue
                tokens = 1 if carries_tokens(data) else 0
                usage, parsed = usage_of(data)
                if usage is not None:
                    result.usage = usage
                    if not include_usage:
                        if not parsed or not parsed.get("choices"):
                            continue  # the usage-only chunk the client did not ask for
                        parsed.pop("usage", None)
                        data = json.dumps(parsed, separators=(",", ":")).encode()
                elif tokens == 0 and (err := engine_error_of(data)) is not None:
                    result.failed = "engine reported an error"
                    engine_error = err
                    done = True
                    continue
                if pacer.first_at is None or (paced and tokens):
                    # Floor or cap may make this chunk wait: flush what is ready first.
                    when = pacer.earliest(tokens)
                    if when > time.monotonic():
                        if out:
                            await client.write(b"".join(out))
                            out.clear()
                        await hold_until(when)
                    _sent(pacer, result, on_tokens, tokens, time.monotonic())
                else:
                    batched += tokens  # neither first nor capped: nothing reads the pacer now
                out += (b"data: ", data, b"\n\n")  # framed by the join below, one copy
            if batched:
                _sent(pacer, result, on_tokens, batched, time.monotonic())
            if out:
                await client.write(b"".join(out))
                out.clear()
        if not done:
            result.failed = "the engine closed the stream early"
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError) as exc:
        result.failed = _describe(exc)
        timeout = isinstance(exc, TimeoutError)
    if result.failed is not None and not out and not client.started:
        raise FailedBeforeFirstByte(result.failed, timeout=timeout, engine_error=engine_error)
    if engine_error is not None:
        out.append(_engine_error_frame(engine_error))
    elif result.failed is not None:
        out.append(error_frame(_stream_error(result.failed)))
    out.append(DONE)
    await hold_until(pacer.not_before)  # even an error never beats the floor
    await client.write(b"".join(out))
    await client.close()


def _sent(
    pacer: Pacer,
    result: StreamResult,
    on_tokens: Callable[[int, float], None] | None,
    chunks: int,
    now: float,
) -> None:
    """``chunks`` chunks with output (one token each, as counted) leave at ``now``."""
    pacer.sent(chunks, now)
    if chunks:
        result.chunks_with_tokens += chunks
        if result.first_token_at is None:
            result.first_token_at = now
        if on_tokens is not None:
            on_tokens(chunks, now)


def _engine_error_frame(parsed: dict) -> bytes:
    err = parsed.get("error")
    if isinstance(err, str):
        return error_frame(error_body(err, "upstream_error"))
    assert isinstance(err, dict)
    return error_frame(
        error_body(
            str(err.get("message") or "The engine failed while generating."),
            err.get("type") if isinstance(err.get("type"), str) else "upstream_error",
            err.get("param") if isinstance(err.get("param"), str) else None,
            err.get("code"),
        )
    )


def _stream_error(reason: str) -> dict:
    return error_body(
        f"The upstream inference server failed mid-stream ({reason}); "
        "the output above is incomplete.",
        "upstream_error",
        None,
        "upstream_stream_error",
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return "no data from the engine within the chunk timeout"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return "the engine connection was lost"
    return "the engine connection failed"
