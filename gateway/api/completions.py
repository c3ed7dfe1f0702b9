"""``POST /v1/completions`` (the legacy text completions API)."""

from __future__ import annotations

from aiohttp import web

from gateway.api.keys import GATEWAY
from gateway.pipeline.chain import serve_completion


async def completions(request: web.Request) -> web.StreamResponse:
    return await serve_completion(request.app[GATEWAY], request, "completions")
