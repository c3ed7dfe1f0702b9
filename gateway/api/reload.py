"""``POST /admin/reload`` (admin key): re-read the config file and swap it in, whole or not at all.

The same path as SIGHUP (``Gateway.reload_from``): the file is validated fully (schema,
cross-references, policies) and checked for changes that need a restart; then tiers,
keys and policies are swapped. Queued and in-flight requests carry on under the config
they started with. A refused config leaves the running one serving and answers 400 in
OpenAI's error shape, with every problem (led by its field path) in ``problems`` and in
the message.
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.keys import GATEWAY
from gateway.errors import APIError, error_body
from gateway.pipeline.auth import authenticate_admin


async def reload_config(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    authenticate_admin(request.headers, gw.runtime.keyring)
    if gw.config_path is None:
        raise APIError(
            409,
            "This gateway was not started from a config file (demo or in-memory config); "
            "there is nothing to re-read.",
            code="no_config_file",
        )
    problems = await gw.reload_from()
    if problems:
        n = len(problems)
        body = error_body(
            f"The new config was refused ({n} problem{'s' if n != 1 else ''}); the running "
            "config keeps serving. " + "; ".join(problems),
            "invalid_request_error",
            None,
            "invalid_config",
        )
        body["problems"] = problems
        return web.json_response(body, status=400)
    config = gw.config
    return web.json_response(
        {
            "reloaded": True,
            "config": str(gw.config_path),
            "tiers": sorted(config.tiers),
            "keys": len(config.keys),
            "models": config.model_names(),
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/admin/reload", reload_config)
