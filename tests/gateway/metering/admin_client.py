"""Reads from the admin API and sums what clients were told, for the metering tests."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import aiohttp

from tests.fixtures.stack import ADMIN_KEY

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def admin_get(base_url: str, path: str, **params: Any) -> tuple[int, Any]:
    """GET an admin route; JSON Lines (the export) come back as a list of objects."""
    query = {k: str(v) for k, v in params.items() if v is not None}
    url = base_url + path
    async with aiohttp.ClientSession() as s, s.get(url, params=query, headers=AUTH) as r:
        text = await r.text()
        if r.headers.get("Content-Type", "").startswith("application/x-ndjson"):
            return r.status, [json.loads(line) for line in text.splitlines() if line]
        return r.status, json.loads(text)


async def usage(base_url: str, **params: Any) -> dict[str, Any]:
    status, body = await admin_get(base_url, "/admin/usage", **params)
    assert status == 200, body
    return body


def summed(usages: Iterable[Any]) -> dict[str, int]:
    """Requests and token totals over the ``usage`` objects clients received."""
    out = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0}
    for u in usages:
        out["requests"] += 1
        out["prompt_tokens"] += u.prompt_tokens
        out["completion_tokens"] += u.completion_tokens
    return out


def totals_of(report: dict[str, Any]) -> dict[str, int]:
    t = report["total"]
    return {k: t[k] for k in ("requests", "prompt_tokens", "completion_tokens")}
