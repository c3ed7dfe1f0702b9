"""OpenAI-shaped errors: one exception type the pipeline raises, one JSON shape it answers.

Every error body is ``{"error": {"message", "type", "param", "code"}}`` with all four
keys present, because the OpenAI SDK reads them to build its exception.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from aiohttp import web

_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "upstream_error",
    503: "service_unavailable_error",
    504: "timeout_error",
}


class APIError(Exception):
    """An error the client should see, with its HTTP status and OpenAI fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.type = type or _TYPE_BY_STATUS.get(
            status, "server_error" if status >= 500 else "invalid_request_error"
        )
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.param, self.code)

    def response(self, extra_headers: Mapping[str, str] | None = None) -> web.Response:
        headers = {**self.headers, **(extra_headers or {})}
        return web.Response(
            status=self.status,
            body=json.dumps(self.body()).encode(),
            content_type="application/json",
            headers=headers,
        )


def error_body(
    message: str, type_: str, param: str | None = None, code: Any = None
) -> dict[str, Any]:
    """The OpenAI error object; an integer ``code`` (vLLM sends one) becomes a string."""
    if code is not None and not isinstance(code, str):
        code = str(code)
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def normalise_engine_error(status: int, payload: Any, fallback: str) -> APIError:
    """An engine's error body (OpenAI, vLLM or free text) as an APIError of the same status."""
    message, param, code, type_ = fallback, None, None, None
    err = payload.get("error", payload) if isinstance(payload, dict) else None
    if isinstance(err, dict):
        message = str(err.get("message") or fallback)
        param = err.get("param") if isinstance(err.get("param"), str) else None
        code = err.get("code")
        type_ = err.get("type") if isinstance(err.get("type"), str) else None
    elif isinstance(err, str):
        message = err
    if code is not None and not isinstance(code, str):
        code = None  # vLLM's integer code repeats the HTTP status; the status already says it
    if status < 500 and type_ in (None, "BadRequestError", "NotFoundError"):
        type_ = None  # map engine exception names onto OpenAI's types
    return APIError(status, message, code=code, param=param, type=type_)


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def retry_headers(seconds: float) -> dict[str, str]:
    """``Retry-After`` in whole seconds (at least 1) and the SDK's exact ``retry-after-ms``."""
    return {
        "Retry-After": str(max(1, math.ceil(seconds))),
        "retry-after-ms": str(max(1, math.ceil(seconds * 1000))),
    }
