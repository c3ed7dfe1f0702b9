"""Reads from the gateway's admin API around a run: GPU count and metered usage.

Both are optional extras: a target that is a bare engine, or a gateway without these routes,
yields ``None`` and a note saying why, never a failed run.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from loadtest.config import RunConfig


async def fetch_gpus(session: aiohttp.ClientSession, config: RunConfig) -> tuple[int | None, str]:
    """GPUs behind the gateway from ``GET /admin/state`` (its ``gpus`` total)."""
    state, note = await _get_admin(session, config, "/admin/state", {})
    if state is None:
        return None, note
    gpus = state.get("gpus")
    if isinstance(gpus, int | float) and gpus > 0:
        return int(gpus), ""
    return None, "GET /admin/state gave no GPU count"


async def fetch_usage(
    session: aiohttp.ClientSession, config: RunConfig, since: float, until: float
) -> tuple[dict[str, Any] | None, str]:
    """``GET /admin/usage?since=&until=`` (Unix seconds) over the run."""
    return await _get_admin(
        session, config, "/admin/usage", {"since": f"{since:.3f}", "until": f"{until:.3f}"}
    )


async def _get_admin(
    session: aiohttp.ClientSession, config: RunConfig, path: str, params: dict[str, str]
) -> tuple[dict[str, Any] | None, str]:
    if not config.admin_key:
        return None, ""
    url = config.server_root + path
    headers = {"Authorization": f"Bearer {config.admin_key}"}
    try:
        async with session.get(
            url, params=params, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
        ) as resp:
            if resp.status != 200:
                return None, f"GET {path} answered {resp.status}"
            body = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return None, f"GET {path} failed: {type(exc).__name__}: {exc}"
    if not isinstance(body, dict):
        return None, f"GET {path} did not return a JSON object"
    return body, ""
