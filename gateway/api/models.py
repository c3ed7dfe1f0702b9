"""``GET /v1/models``: the public model names this key's tier may use."""

from __future__ import annotations

import time

from aiohttp import web

from gateway.api.keys import GATEWAY
from gateway.errors import APIError
from gateway.pipeline.auth import authenticate

_CREATED = int(time.time())


def _model_object(name: str) -> dict[str, object]:
    return {"id": name, "object": "model", "created": _CREATED, "owned_by": "tokengate"}


def _visible(request: web.Request) -> list[str]:
    gw = request.app[GATEWAY]
    key = authenticate(request.headers, gw.runtime.keyring)
    names = gw.config.model_names()
    if key.tier is None:
        return names
    tier = gw.config.tiers[key.tier]
    return [m for m in names if tier.allows(m)]


async def list_models(request: web.Request) -> web.Response:
    return web.json_response(
        {"object": "list", "data": [_model_object(m) for m in _visible(request)]}
    )


async def get_model(request: web.Request) -> web.Response:
    name = request.match_info["model"]
    if name not in _visible(request):
        raise APIError(
            404,
            f"The model '{name}' does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    return web.json_response(_model_object(name))
