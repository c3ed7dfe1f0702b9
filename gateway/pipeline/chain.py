"""The way of one request, step by step: each step is one call, any step may answer early.

authenticate → read and validate → resolve model and tier → count and cap →
admit (rate limits, budget) → schedule, forward and relay → meter. The finally
block runs for every outcome, cancellation included, so a request is released
and metered exactly once.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from aiohttp import web

from gateway.api.keys import REQUEST_CONTEXT, REQUEST_ID
from gateway.api.schemas import ChatCompletionRequest, CompletionRequest, validate_request
from gateway.errors import APIError
from gateway.pipeline.auth import authenticate
from gateway.pipeline.body import read_json
from gateway.pipeline.context import Endpoint, RequestContext
from gateway.pipeline.prompt import prepare_prompt
from gateway.pipeline.proxy import proxy
from policies.ticket import Ticket

if TYPE_CHECKING:
    from gateway.runtime import Gateway

_MODELS = {"chat": ChatCompletionRequest, "completions": CompletionRequest}


async def serve_completion(
    gw: Gateway, request: web.Request, endpoint: Endpoint
) -> web.StreamResponse:
    ctx = RequestContext(endpoint, request_id=request[REQUEST_ID])
    request[REQUEST_CONTEXT] = ctx
    try:
        return await _steps(gw, ctx, request)
    except APIError as exc:
        ctx.status = exc.status
        ctx.error_type = exc.code or exc.type
        # A backend was tried (it may have been given back for a retry): the failure is upstream's.
        upstream_failed = ctx.grant is not None or (ctx.backend is not None and exc.status >= 500)
        if upstream_failed and ctx.outcome == "ok":
            ctx.outcome = "upstream_error"
        return exc.response(gw.response_headers(ctx))
    except asyncio.CancelledError:
        ctx.outcome = "client_disconnect"  # aiohttp cancels the handler of a departed client
        ctx.status = 499
        raise
    except ConnectionResetError:
        # The client left while we read its body: nobody to answer (aiohttp drops the write).
        ctx.outcome = "client_disconnect"
        ctx.status = 499
        return web.Response(status=499)
    finally:
        ctx.finished_at = time.monotonic()
        gw.finish(ctx)


async def _steps(gw: Gateway, ctx: RequestContext, request: web.Request) -> web.StreamResponse:
    rt = gw.runtime  # one config generation for the whole request, even across a reload
    ctx.key = authenticate(request.headers, rt.keyring)
    if ctx.key.tier is None:
        raise APIError(403, "This key is an admin key; it cannot call models.", code="admin_key")
    server = rt.config.server
    raw = await read_json(request, server.max_body_bytes, server.body_timeout_s)
    req = validate_request(_MODELS[ctx.endpoint], raw)
    ctx.model = req.model
    ctx.stream = req.stream
    ctx.include_usage = req.include_usage
    scheduler = gw.schedulers.get(req.model)
    if scheduler is None:
        raise APIError(
            404,
            f"The model '{req.model}' does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    ctx.tier_name = ctx.key.tier
    tier = ctx.tier = rt.config.tiers[ctx.tier_name]
    if not tier.allows(req.model):
        raise APIError(
            403,
            f"Your tier '{ctx.tier_name}' may not use the model '{req.model}'.",
            param="model",
            code="model_not_allowed",
        )
    prepared = await prepare_prompt(
        ctx.endpoint,
        raw,
        requested_max_tokens=req.requested_max_tokens,
        counter=rt.counter,
        model=rt.config.model(req.model),
        tier=tier,
    )
    ctx.payload = prepared.payload
    ctx.prompt_tokens = prepared.prompt_tokens
    ctx.max_tokens = prepared.max_tokens
    ctx.truncated_messages = prepared.truncated_messages
    await gw.admission.admit(ctx, n=req.n)
    ctx.ticket = Ticket(
        id=ctx.request_id,
        seq=gw.next_seq(),
        tenant=ctx.tenant,
        tier=ctx.tier_name,
        model=req.model,
        prompt_tokens=ctx.prompt_tokens,
        max_tokens=ctx.max_tokens * req.n,
        arrival=ctx.arrival,
        deadline=ctx.arrival + tier.queue_timeout_ms / 1000.0,
        ttft_due=ctx.arrival + tier.ttft_target_s,
        priority=tier.priority,
        weight=tier.weight,
        use_reserve=tier.use_reserve,
        prefix_hash=prepared.prefix_hash,
    )
    return await proxy(gw, ctx, request, scheduler)
