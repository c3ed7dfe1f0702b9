"""The terminal step: get a slot, call the engine, relay its answer.

A request is retried on another backend only before its first byte reached the
client: for connect errors, timeouts, 5xx answers, an engine that refuses the
gateway's own credentials, and a stream that breaks before its first chunk was
sent. The engine's errors keep their message, never an internal URL or key.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from gateway.errors import APIError, normalise_engine_error, retry_headers
from gateway.pipeline.context import RequestContext
from gateway.scheduling.scheduler import Grant, NoLiveBackend, QueueTimeout, Scheduler
from gateway.streaming.pacing import Pacer
from gateway.streaming.relay import FailedBeforeFirstByte, StreamResult, hold_until, relay_stream
from gateway.upstream.backend import BackendState
from gateway.upstream.pool import UpstreamUnavailable

if TYPE_CHECKING:
    from gateway.runtime import Gateway

_PATHS = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}
_RETRY_GRACE_S = 5.0  # a retry gets at least this long to find another backend
# The engine refused the gateway's key or does not know the configured path or model name:
# the gateway's configuration is wrong, not the client's request.
_MISCONFIGURED = (401, 403, 404)


class _TryElsewhere(Exception):
    """This backend failed before the client got a byte; ``error`` is what to say if none can."""

    def __init__(self, error: APIError, reason: str) -> None:
        super().__init__(error.message)
        self.error = error
        self.reason = reason  # the upstream_retries metric label


async def proxy(
    gw: Gateway, ctx: RequestContext, request: web.Request, scheduler: Scheduler
) -> web.StreamResponse:
    assert ctx.ticket is not None and ctx.tier is not None
    ticket = ctx.ticket
    excluded: set[str] = set()
    last: APIError | None = None
    while True:
        grant = await _acquire(scheduler, ticket, frozenset(excluded), last)
        _granted(gw, ctx, grant)
        b = grant.backend
        try:
            return await _attempt(gw, ctx, request, b)
        except _TryElsewhere as exc:
            last = exc.error
            await _give_back(gw, ctx, scheduler)
            gw.metrics.child("upstream_retries", b.name, exc.reason).inc()
            excluded.add(b.name)
            ticket = _retry_ticket(ticket, gw.next_seq())


async def _attempt(
    gw: Gateway, ctx: RequestContext, request: web.Request, b: BackendState
) -> web.StreamResponse:
    """One try on one backend; raises ``_TryElsewhere`` while nothing reached the client."""
    body = _body(ctx, b.config.models[ctx.model])
    try:
        upstream = await gw.pool.post(
            b, _PATHS[ctx.endpoint], body, ctx.request_id, stream=ctx.stream
        )
    except UpstreamUnavailable as exc:
        if exc.connect_failed:
            gw.health.report_failure(b, exc.reason)
        raise _TryElsewhere(
            _unavailable(exc.reason, timeout=exc.timeout), "timeout" if exc.timeout else "connect"
        ) from None
    try:
        if upstream.status >= 400:
            await _engine_refused(upstream)
        if ctx.stream:
            return await _stream(gw, ctx, request, upstream)
        return await _whole(gw, ctx, upstream)
    finally:
        # A no-op after a full read; otherwise it drops the connection, so the engine aborts.
        upstream.close()


async def _engine_refused(upstream: aiohttp.ClientResponse) -> None:
    """Turn an engine's error answer into the client's error, or into a retry elsewhere."""
    status = upstream.status
    payload = await _read_error(upstream)
    if status in _MISCONFIGURED:
        # Never relay these: the client would blame its own key or model name.
        err = APIError(
            502,
            f"The inference backend refused the gateway's request ({status}); "
            "the gateway's backend configuration needs attention.",
            code="upstream_misconfigured",
        )
        raise _TryElsewhere(err, "misconfigured")
    if status >= 500:
        err = normalise_engine_error(status, payload, f"The inference backend failed ({status}).")
        err.status = status if status in (503, 504) else 502
        raise _TryElsewhere(err, "5xx")
    raise normalise_engine_error(status, payload, f"The engine refused the request ({status}).")


def _unavailable(reason: str, *, timeout: bool) -> APIError:
    if timeout:
        return APIError(
            504,
            f"The inference backend did not answer in time ({reason}).",
            code="upstream_timeout",
        )
    return APIError(
        502, f"The inference backend is unavailable ({reason}).", code="upstream_unavailable"
    )


async def _acquire(
    scheduler: Scheduler, ticket: Any, excluded: frozenset[str], last: APIError | None
) -> Grant:
    try:
        return await scheduler.acquire(ticket, excluded)
    except NoLiveBackend as exc:
        if last is not None:
            raise last from None  # we tried; report what the engines said, not "no backend"
        raise APIError(
            503,
            "No healthy backend is serving this model right now.",
            code="no_backend",
            headers=retry_headers(exc.retry_after_s),
        ) from None
    except QueueTimeout as exc:
        if last is not None:
            raise last from None
        if exc.no_backend:
            raise APIError(
                503,
                "No healthy backend became available for this model in time.",
                code="no_backend",
                headers=retry_headers(exc.retry_after_s),
            ) from None
        raise APIError(
            429,
            "The request waited in the queue longer than its tier allows; retry later.",
            code="queue_timeout",
            type="rate_limit_error",
            headers=retry_headers(exc.retry_after_s),
        ) from None


def _granted(gw: Gateway, ctx: RequestContext, grant: Grant) -> None:
    ctx.grant = grant
    ctx.backend = grant.backend.name
    ctx.queue_s += grant.queued_s
    ctx.dispatched_at = grant.dispatched_at
    gw.recorder.dispatched(ctx)


async def _give_back(gw: Gateway, ctx: RequestContext, scheduler: Scheduler) -> None:
    """Return a slot whose backend failed before any output reached the client."""
    grant, ctx.grant = ctx.grant, None
    ctx.first_token_at, ctx.chunks_with_tokens, ctx.engine_usage = None, 0, None
    if grant is not None and ctx.ticket is not None:
        gw.recorder.abandoned(ctx, grant)
        await scheduler.release(grant, ctx.ticket, None)


def _retry_ticket(ticket: Any, seq: int) -> Any:
    """The same request, queued again: a fresh ``seq`` (the scheduler's heaps and maps key on it,
    and may still hold the first attempt's entry) and a little time to find another backend."""
    deadline = max(ticket.deadline, time.monotonic() + _RETRY_GRACE_S)
    return dataclasses.replace(ticket, seq=seq, deadline=deadline)


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


async def _stream(
    gw: Gateway, ctx: RequestContext, request: web.Request, upstream: aiohttp.ClientResponse
) -> web.StreamResponse:
    client = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            **gw.response_headers(ctx),
        },
    )
    on_tokens = gw.recorder.token_hook(ctx)
    result = StreamResult()
    try:
        await relay_stream(
            upstream,
            request,
            client,
            _pacer(ctx),
            include_usage=ctx.include_usage,
            on_tokens=on_tokens,
            result=result,
        )
    except FailedBeforeFirstByte as exc:
        raise _stream_failed_early(exc) from None
    finally:
        # Also on cancellation (the client left): meter what was actually generated.
        ctx.first_token_at = result.first_token_at
        ctx.chunks_with_tokens = result.chunks_with_tokens
        ctx.engine_usage = result.usage
    if result.client_gone:
        ctx.outcome = "client_disconnect"
        ctx.status = 499
        return client
    ctx.status = 200
    if result.failed is not None:
        ctx.outcome = "upstream_error"
        ctx.error_type = result.failed
    return client


def _stream_failed_early(exc: FailedBeforeFirstByte) -> Exception:
    """The client has no headers yet: answer with a status, or try another backend."""
    if exc.engine_error is None:
        return _TryElsewhere(
            _unavailable(exc.reason, timeout=exc.timeout), "timeout" if exc.timeout else "stream"
        )
    body = exc.engine_error.get("error") if isinstance(exc.engine_error, dict) else None
    code = body.get("code") if isinstance(body, dict) else None  # vLLM: the HTTP status
    status = code if isinstance(code, int) and 400 <= code <= 599 else 502
    err = normalise_engine_error(status, exc.engine_error, "The engine failed while generating.")
    if status < 500:
        return err
    err.status = status if status in (503, 504) else 502
    return _TryElsewhere(err, "5xx")


async def _whole(
    gw: Gateway, ctx: RequestContext, upstream: aiohttp.ClientResponse
) -> web.Response:
    try:
        raw = await upstream.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        timeout = isinstance(exc, TimeoutError)
        reason = "timed out" if timeout else "the engine connection was lost"
        raise _TryElsewhere(
            _unavailable(reason, timeout=timeout), "timeout" if timeout else "stream"
        ) from None
    try:
        parsed = json.loads(raw)
    except ValueError:
        ctx.outcome = "upstream_error"
        raise APIError(
            502, "The inference backend sent a response that is not JSON.", code="upstream_error"
        ) from None
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
