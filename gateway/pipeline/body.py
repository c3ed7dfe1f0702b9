"""Reading the request body: size limit (413), a deadline for slow senders, JSON (400).

The body is read here, chunk by chunk, against the current config's limit rather
than through ``request.read()`` and the app's ``client_max_size``, which is fixed
at start-up and would ignore a limit changed by hot reload.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from gateway.errors import APIError


async def read_json(request: web.Request, max_bytes: int, timeout_s: float) -> Any:
    length = request.content_length
    if length is not None and length > max_bytes:
        raise _too_large(max_bytes)
    try:
        async with asyncio.timeout(timeout_s):
            raw = await _read_at_most(request, max_bytes)
    except TimeoutError:
        raise APIError(
            408, f"The request body was not received within {timeout_s:g} s.", code="body_timeout"
        ) from None
    if not raw:
        raise APIError(400, "The request body is empty; send a JSON object.", code="invalid_json")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise APIError(
            400,
            "We could not parse the JSON body of your request. The body must be valid JSON.",
            code="invalid_json",
        ) from None


async def _read_at_most(request: web.Request, max_bytes: int) -> bytes:
    """The whole body, or 413 as soon as it passes ``max_bytes`` (chunked bodies too)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        parts.append(chunk)
    return b"".join(parts)


def _too_large(max_bytes: int) -> APIError:
    return APIError(
        413,
        f"The request body is larger than the {max_bytes} bytes this gateway accepts.",
        code="body_too_large",
    )
