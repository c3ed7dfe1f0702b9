"""Reading the request body: size limit (413), a deadline for slow senders, JSON (400)."""

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
            raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _too_large(max_bytes) from None
    except TimeoutError:
        raise APIError(408, f"The request body was not received within {timeout_s:g} s.", code="body_timeout") from None
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


def _too_large(max_bytes: int) -> APIError:
    return APIError(413, f"The request body is larger than the {max_bytes} bytes this gateway accepts.", code="body_too_large")
