"""The aiohttp application: routes, the error middleware, and the gateway's lifecycle."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.api import admin, chat, completions, health, metrics, models, reload
from gateway.api.keys import GATEWAY, REQUEST_ID
from gateway.config.schema import GatewayConfig
from gateway.errors import APIError
from gateway.pipeline.context import new_request_id
from gateway.runtime import Gateway

log = logging.getLogger("tokengate")


@web.middleware
async def openai_errors(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """Give every request an id, and answer every failure in OpenAI's error shape."""
    request[REQUEST_ID] = new_request_id()
    response = await _answer(request, handler)
    if not request.content.is_eof() and not response.prepared:
        # Answered before the body arrived (401, 408, 413): the connection cannot be reused.
        response.force_close()
    return response


async def _answer(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except APIError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = {
            404: f"Unknown path: {request.path}.",
            405: f"Method {request.method} is not allowed on {request.path}.",
            413: "The request body is too large.",
        }.get(exc.status, exc.reason)
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return APIError(exc.status, message, code=None, headers=headers).response()
    except Exception:
        log.exception(
            "unhandled error in %s %s (request %s)",
            request.method,
            request.path,
            request[REQUEST_ID],
        )
        return APIError(
            500, "The gateway failed to handle the request.", code="internal_error"
        ).response()


async def _request_id_header(request: web.Request, response: web.StreamResponse) -> None:
    rid = request.get(REQUEST_ID)
    if rid is not None:
        response.headers["x-request-id"] = rid


def create_app(config: GatewayConfig, gateway: Gateway | None = None) -> web.Application:
    app = web.Application(middlewares=[openai_errors], client_max_size=config.server.max_body_bytes)
    gw = gateway or Gateway(config)
    app[GATEWAY] = gw

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await gw.start()
        yield
        await gw.stop()

    app.cleanup_ctx.append(lifecycle)
    app.on_response_prepare.append(_request_id_header)
    app.router.add_post("/v1/chat/completions", chat.chat_completions)
    app.router.add_post("/v1/completions", completions.completions)
    app.router.add_get("/v1/models", models.list_models)
    app.router.add_get("/v1/models/{model:.+}", models.get_model)  # names may hold "/"
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", metrics.metrics)
    admin.add_routes(app)
    reload.add_routes(app)
    return app
