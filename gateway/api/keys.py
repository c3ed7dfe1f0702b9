"""Typed keys for what the app holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from gateway.runtime import Gateway

GATEWAY: web.AppKey[Gateway] = web.AppKey("gateway")
