"""The terminal step: get a slot, call the engine, relay its answer.

A request is retried on another backend only before its first byte reached the
client, and only for connect errors and 5xx answers. The engine's errors keep
their message, never an internal URL or key.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from gateway.errors import APIError, normalise_engine_error
from gateway.pipeline.context import RequestContext
from gateway.scheduling.scheduler import Grant, NoLiveBackend, QueueTimeout, Scheduler
from gateway.streaming.pacing import Pacer
from gateway.streaming.relay import StreamResult, hold_until, relay_stream
from gateway.upstream.pool import UpstreamUnavailable

if TYPE_CHECKING:
    from gateway.runtime import Gateway

_PATHS = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}
_RETRY_GRACE_S = 5.0  # a retry gets at least this long to find another backend


async def proxy(gw: Gateway, ctx: RequestContext, request: web.Request, scheduler: Scheduler) -> web.StreamResponse:
    assert ctx.ticket is not None and ctx.tier is not None
    ticket = ctx.ticket
    excluded: set[str] = set()
    last: APIError | None = None
    while True:
        grant = await _acquire(scheduler, ticket, frozenset(excluded), last)
        _granted(gw, ctx, grant)
        b = grant.backend
        body = _body(ctx, b.config.models[ctx.model])
        try:
            upstream = await gw.pool.post(b, _PATHS[ctx.endpoint], body, ctx.request_id, stream=ctx.stream)
        except UpstreamUnavailable as exc:
            if not exc.timeout:
                gw.health.report_failure(b, exc.reason)
            status = 504 if exc.timeout else 502
            last = APIError(status, f"The inference backend is unavailable ({exc.reason}).", code="upstream_unavailable")
            await _give_back(gw, ctx, scheduler)
            gw.metrics.child("upstream_retries", b.name, "timeout" if exc.timeout else "connect").inc()
            excluded.add(b.name)
            ticket = _retry_ticket(ticket)
            continue
        if upstream.status >= 500:
            payload = await _read_error(upstream)
            last = normalise_engine_error(upstream.status, payload, f"The inference backend failed ({upstream.status}).")
            last.status = 503 if upstream.status == 503 else 502
            await _give_back(gw, ctx, scheduler)
            gw.metrics.child("upstream_retries", b.name, "5xx").inc()
            excluded.add(b.name)
            ticket = _retry_ticket(ticket)
            continue
        if upstream.status >= 400:
            payload = await _read_error(upstream)
            raise normalise_engine_error(upstream.status, payload, f"The engine refused the request ({upstream.status}).")
        try:
            if ctx.stream:
                return await _stream(gw, ctx, request, upstream)
            return await _whole(gw, ctx, upstream)
        finally:
            upstream.close()  # no-op after a full read; otherwise drops the connection so the engine aborts


async def _acquire(scheduler: Scheduler, ticket: Any, excluded: frozenset[str], last: APIError | None) -> Grant:
    try:
        return await scheduler.acquire(ticket, excluded)
    except NoLiveBackend as exc:
        if last is not None:
            raise last from None  # we tried; report what the engines said, not "no backend"
        raise APIError(
            503, "No healthy backend is serving this model right now.", code="no_backend",
            headers={"Retry-After": str(int(exc.retry_after_s))},
        ) from None
    except QueueTimeout as exc:
        retry = str(int(exc.retry_after_s))
        if exc.no_backend:
            raise APIError(
                503, "No healthy backend became available for this model in time.", code="no_backend",
                headers={"Retry-After": retry},
            ) from None
        raise APIError(
            429, "The request waited in the queue longer than its tier allows; retry later.",
            code="queue_timeout", type="rate_limit_error",
            headers={"Retry-After": retry, "retry-after-ms": str(int(exc.retry_after_s * 1000))},
        ) from None


def _granted(gw: Gateway, ctx: RequestContext, grant: Grant) -> None:
    ctx.grant = grant
    ctx.backend = grant.backend.name
    ctx.queue_s += grant.queued_s
    ctx.dispatched_at = grant.dispatched_at
    gw.recorder.dispatched(ctx)


async def _give_back(gw: Gateway, ctx: RequestContext, scheduler: Scheduler) -> None:
    """Return a slot whose backend failed before any output; nothing was generated."""
    grant, ctx.grant = ctx.grant, None
    if grant is not None and ctx.ticket is not None:
        gw.recorder.abandoned(ctx, grant)
        await scheduler.release(grant, ctx.ticket, None)


def _retry_ticket(ticket: Any) -> Any:
    return dataclasses.replace(ticket, deadline=max(ticket.deadline, time.monotonic() + _RETRY_GRACE_S))


def _body(ctx: RequestContext, engine_model: str) -> bytes:
    payload = ctx.payload
    payload["model"] = engine_model
    if ctx.stream:
        options = dict(payload.get("stream_options") or {})
        options["include_usage"] = True  # always: metering needs it; the relay strips it if unasked
        payload["stream_options"] = options
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


async def _read_error(upstream: aiohttp.ClientResponse) -> Any:
    try:
        raw = await upstream.read()
    except (aiohttp.ClientError, TimeoutError):
        return None
    finally:
        upstream.release()
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:500] or None


def _pacer(ctx: RequestContext) -> Pacer:
    assert ctx.tier is not None
    return Pacer(ctx.arrival + ctx.tier.min_ttft_ms / 1000.0, ctx.tier.max_output_tokens_per_s)


async def _stream(gw: Gateway, ctx: RequestContext, request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
    client = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            **gw.response_headers(ctx),
        },
    )
    try:
        await client.prepare(request)
    except ConnectionResetError:
        _client_left(ctx)
        return client
    ctx.status = 200
    on_tokens = gw.recorder.token_hook(ctx)
    result = StreamResult()
    try:
        await relay_stream(
            upstream, client, _pacer(ctx), include_usage=ctx.include_usage, on_tokens=on_tokens, result=result
        )
    finally:
        # Also on cancellation (the client left): meter what was actually generated.
        ctx.first_token_at = result.first_token_at
        ctx.chunks_with_tokens = result.chunks_with_tokens
        ctx.engine_usage = result.usage
    if result.client_gone:
        _client_left(ctx)
    elif result.failed is not None:
        ctx.outcome = "upstream_error"
        ctx.error_type = result.failed
    return client


def _client_left(ctx: RequestContext) -> None:
    ctx.outcome = "client_disconnect"
    ctx.status = 499


async def _whole(gw: Gateway, ctx: RequestContext, upstream: aiohttp.ClientResponse) -> web.Response:
    try:
        raw = await upstream.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        ctx.outcome = "upstream_error"
        timeout = isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError)
        raise APIError(
            504 if timeout else 502,
            "The inference backend " + ("timed out." if timeout else "failed before finishing the response."),
            code="upstream_timeout" if timeout else "upstream_error",
        ) from None
    try:
        parsed = json.loads(raw)
    except ValueError:
        ctx.outcome = "upstream_error"
        raise APIError(502, "The inference backend sent a response that is not JSON.", code="upstream_error") from None
    usage = parsed.get("usage") if isinstance(parsed, dict) else None
    ctx.engine_usage = usage if isinstance(usage, dict) else None
    if ctx.engine_usage is not None:
        completion = int(ctx.engine_usage.get("completion_tokens") or 0)
    else:
        completion = ctx.chunks_with_tokens = _count_output(gw, parsed)
    await hold_until(_pacer(ctx).earliest_whole(completion))
    ctx.first_token_at = time.monotonic()
    ctx.status = 200
    return web.Response(
        status=200, body=raw, content_type="application/json", headers=gw.response_headers(ctx)
    )


def _count_output(gw: Gateway, parsed: Any) -> int:
    """Completion tokens of a response whose engine sent no usage, counted with tiktoken."""
    total = 0
    for choice in parsed.get("choices") or [] if isinstance(parsed, dict) else []:
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        text = message.get("content") if isinstance(message, dict) else choice.get("text")
        if isinstance(text, str):
            total += gw.runtime.counter.text(text)
    return total
