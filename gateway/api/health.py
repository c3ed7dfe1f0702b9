"""``/healthz`` (the process is alive) and ``/readyz`` (it can serve: a backend is healthy)."""

from __future__ import annotations

from aiohttp import web

from gateway.api.keys import GATEWAY


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    backends = {name: b.healthy for name, b in gw.backends.items()}
    store = gw.store.status()
    ready = any(backends.values())
    body = {
        "status": ("ready" if store.healthy else "degraded") if ready else "unavailable",
        "backends": backends,
        # Degraded store: still ready (limits go local, usage spools), but say so.
        "store": store.to_json(),
    }
    return web.json_response(body, status=200 if ready else 503)
