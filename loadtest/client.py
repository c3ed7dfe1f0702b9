"""One request over a shared aiohttp session, timed chunk by chunk, into a ``RequestRecord``.

The hot path: no SDK, a minimal SSE decoder, orjson when installed, and only timestamps and
gaps kept (the generated text is held only when the server sends no usage to count from).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from loadtest.prompts import count_tokens
from loadtest.record import RequestRecord
from loadtest.sse import SSEDecoder

try:
    import orjson

    loads = orjson.loads
    dumps = orjson.dumps
except ImportError:  # pragma: no cover - orjson is in the "fast" extra
    import json

    loads = json.loads

    def dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()


_perf = time.perf_counter


def request_body(
    *,
    model: str,
    prompt: str,
    max_tokens: int,
    chat: bool,
    stream: bool,
    ignore_eos: bool,
    min_tokens: bool,
    extra: dict[str, Any] | None = None,
) -> bytes:
    body: dict[str, Any] = {"model": model, "max_tokens": max_tokens}
    if chat:
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if ignore_eos:
        body["ignore_eos"] = True
    if min_tokens:
        body["min_tokens"] = max_tokens
    if extra:
        body.update(extra)
    return dumps(body)


async def send_request(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    body: bytes,
    record: RequestRecord,
    *,
    t0: float,
    stream: bool,
    closed_loop: bool = False,
) -> RequestRecord:
    """Send ``body`` now and fill ``record`` (already holding index, tier and intended time).

    Never raises for request failures: they become ``error_kind``/``error_message``. A task
    cancelled by the runner (stragglers after the drain timeout) also returns its record, as
    ``unfinished``, so it is counted rather than lost. In a closed loop the latency origin is
    the actual send, so ``intended_s`` is set to it.
    """
    record.sent_s = _perf() - t0
    if closed_loop:
        record.intended_s = record.sent_s
    try:
        async with session.post(url, data=body, headers=headers) as resp:
            record.status = resp.status
            h = resp.headers
            queue = h.get("x-tokengate-queue-ms")
            if queue is not None:
                record.queue_ms = _float(queue)
            record.request_id = h.get("x-request-id")
            record.backend = h.get("x-tokengate-backend")
            record.served_tier = h.get("x-tokengate-tier")
            if resp.status >= 400:
                text = await resp.text(errors="replace")
                _fail(record, f"http_{resp.status}", _error_message(text))
            elif stream:
                await _read_stream(resp, record, t0)
            else:
                _read_body(await resp.read(), record)
    except asyncio.CancelledError:
        _fail(record, "unfinished", "cancelled after the drain timeout")
    except TimeoutError as exc:
        _fail(record, "timeout", str(exc) or "no data within the read timeout")
    except aiohttp.ClientConnectorError as exc:
        _fail(record, "connect", str(exc))
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
        _fail(record, "disconnected", str(exc) or type(exc).__name__)
    except aiohttp.ClientError as exc:
        _fail(record, "client_error", f"{type(exc).__name__}: {exc}")
    except ValueError as exc:  # malformed JSON from the server
        _fail(record, "bad_response", str(exc)[:200])
    record.end_s = _perf() - t0
    return record


async def _read_stream(resp: aiohttp.ClientResponse, record: RequestRecord, t0: float) -> None:
    decoder = SSEDecoder()
    itl = record.itl_s
    pieces: list[str] = []
    first: float | None = None
    last = 0.0
    done = False
    usage: dict[str, Any] | None = None
    async for chunk in resp.content.iter_any():
        now = _perf()
        for data in decoder.feed(chunk):
            if data == b"[DONE]":
                done = True
                continue
            event = loads(data)
            if "error" in event:
                record.first_token_s = None if first is None else first - t0
                _fail(record, "stream_error", _message_of(event["error"]))
                return
            choices = event.get("choices")
            if choices:
                choice = choices[0]
                delta = choice.get("delta")
                text = delta.get("content") if delta is not None else choice.get("text")
                if text:
                    if first is None:
                        first = now
                    else:
                        itl.append(now - last)
                    last = now
                    pieces.append(text)
            if event.get("usage"):
                usage = event["usage"]
    for data in decoder.flush():
        done = done or data == b"[DONE]"
    if first is not None:
        record.first_token_s = first - t0
    _set_usage(record, usage, pieces)
    if not done:
        _fail(record, "incomplete_stream", "the stream ended without [DONE]")


def _read_body(raw: bytes, record: RequestRecord) -> None:
    obj = loads(raw)
    choices = obj.get("choices") or [{}]
    choice = choices[0]
    message = choice.get("message")
    text = message.get("content") if message else choice.get("text")
    _set_usage(record, obj.get("usage"), [text] if text else [])


def _set_usage(record: RequestRecord, usage: dict[str, Any] | None, pieces: list[str]) -> None:
    if usage and usage.get("completion_tokens") is not None:
        record.prompt_tokens = usage.get("prompt_tokens")
        record.completion_tokens = usage["completion_tokens"]
        record.usage_source = "server"
    else:
        record.prompt_tokens = record.requested_prompt_tokens
        record.completion_tokens = count_tokens("".join(pieces))
        record.usage_source = "counted"


def _fail(record: RequestRecord, kind: str, message: str) -> None:
    record.error_kind = kind
    record.error_message = message[:500]


def _error_message(text: str) -> str:
    try:
        obj = loads(text)
    except ValueError:
        return text[:500]
    return _message_of(obj.get("error", obj)) if isinstance(obj, dict) else text[:500]


def _message_of(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
