"""Admin API (admin key): reload, state, usage. Placeholder routes until metering lands."""

from __future__ import annotations

from aiohttp import web

from gateway.api.keys import GATEWAY
from gateway.pipeline.auth import authenticate_admin


async def state(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    authenticate_admin(request.headers, gw.runtime.keyring)
    return web.json_response(gw.state_snapshot())


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/state", state)
