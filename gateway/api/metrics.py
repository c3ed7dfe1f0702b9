"""``GET /metrics``: Prometheus text."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from gateway.api.keys import GATEWAY


async def metrics(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    gw.refresh_gauges()
    return web.Response(body=gw.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})
