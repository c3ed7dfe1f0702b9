"""Typed keys for what the app holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from gateway.pipeline.context import RequestContext
    from gateway.runtime import Gateway

GATEWAY: web.AppKey[Gateway] = web.AppKey("gateway")
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
REQUEST_CONTEXT: web.RequestKey[RequestContext] = web.RequestKey("request_context")
