"""Admin API (admin key only): fleet state, usage reports, and the raw usage export.

``GET /admin/state``
    Backends, schedulers, this replica's slots per backend and tier, the fleet-wide slot
    occupancy last seen (shared state), the cost meters and the store's status.
``GET /admin/usage?tenant=&tier=&model=&since=&until=&group_by=``
    Totals and per-group totals of settled usage records, ``since <= ts < until`` (Unix
    seconds); ``group_by`` is a comma list of tenant, tier, model, backend (default
    ``tenant,tier``; empty for the total only). Money in USD and exact nano-dollars.
``GET /admin/usage/export?tenant=&tier=&model=&since=&until=``
    The raw records as JSON Lines, streamed in chunks (never built in memory).

Usage answers include every request this replica has answered (it waits, briefly, for its
own pending settles); other replicas' most recent requests may still be on their way.
When the store cannot answer (Redis down) both usage routes give 503 ``store_unavailable``.
"""

from __future__ import annotations

import json
import math

from aiohttp import web

from gateway.api.keys import GATEWAY
from gateway.errors import APIError, error_body
from gateway.pipeline.auth import authenticate_admin
from gateway.runtime import Gateway
from gateway.state.store import StoreUnavailableError
from gateway.state.usage import GROUP_FIELDS, UsageFilter, record_json

DEFAULT_GROUP_BY = ("tenant", "tier")
_FLUSH_TIMEOUT_S = 2.0  # how long a report waits for this replica's pending settles
_EXPORT_BATCH = 256  # records per chunk written


def _gateway(request: web.Request) -> Gateway:
    gw = request.app[GATEWAY]
    authenticate_admin(request.headers, gw.runtime.keyring)
    return gw


def _store_unavailable(exc: Exception) -> APIError:
    return APIError(
        503,
        f"The usage store cannot answer right now ({exc}); requests are still served and "
        "their usage is kept until it is back.",
        code="store_unavailable",
        headers={"Retry-After": "5"},
    )


def _time_param(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise APIError(400, f"'{name}' must be Unix seconds, got {raw!r}.", param=name)
    return value


def usage_filter(request: web.Request) -> UsageFilter:
    """The filter a usage query names; 400 naming the parameter when one is malformed."""
    since, until = _time_param(request, "since"), _time_param(request, "until")
    if since is not None and until is not None and until < since:
        raise APIError(400, "'until' must not be before 'since'.", param="until")
    q = request.query
    return UsageFilter(
        tenant=q.get("tenant") or None,
        tier=q.get("tier") or None,
        model=q.get("model") or None,
        since=since,
        until=until,
    )


def group_by(request: web.Request) -> tuple[str, ...]:
    raw = request.query.get("group_by")
    if raw is None:
        return DEFAULT_GROUP_BY
    fields = tuple(f.strip() for f in raw.split(",") if f.strip())
    unknown = [f for f in fields if f not in GROUP_FIELDS]
    if unknown or len(set(fields)) != len(fields):
        raise APIError(
            400,
            f"'group_by' takes distinct fields of {', '.join(GROUP_FIELDS)}; got {raw!r}.",
            param="group_by",
        )
    return fields


async def usage(request: web.Request) -> web.Response:
    gw = _gateway(request)
    filters, fields = usage_filter(request), group_by(request)
    await gw.finished_work(_FLUSH_TIMEOUT_S)
    try:
        report = await gw.store.usage_report(filters, fields)
    except StoreUnavailableError as exc:
        raise _store_unavailable(exc) from None
    body = report.to_json()
    body["filters"] = {
        "tenant": filters.tenant,
        "tier": filters.tier,
        "model": filters.model,
        "since": filters.since,
        "until": filters.until,
    }
    body["group_by"] = list(fields)
    return web.json_response(body)


async def export(request: web.Request) -> web.StreamResponse:
    gw = _gateway(request)
    filters = usage_filter(request)
    await gw.finished_work(_FLUSH_TIMEOUT_S)
    records = gw.store.export_records(filters).__aiter__()
    try:
        first = await anext(records, None)  # a store that cannot answer fails here, before 200
    except StoreUnavailableError as exc:
        raise _store_unavailable(exc) from None
    response = web.StreamResponse(
        status=200, headers={"Content-Type": "application/x-ndjson; charset=utf-8"}
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    lines: list[str] = []
    try:
        if first is not None:
            lines.append(record_json(first))
            async for record in records:
                lines.append(record_json(record))
                if len(lines) >= _EXPORT_BATCH:
                    await response.write(("\n".join(lines) + "\n").encode())
                    lines.clear()
    except StoreUnavailableError as exc:
        # Too late for a status: the last line says the export is incomplete.
        lines.append(
            json.dumps(
                error_body(f"export incomplete: {exc}", "server_error", None, "store_unavailable")
            )
        )
    if lines:
        await response.write(("\n".join(lines) + "\n").encode())
    await response.write_eof()
    return response


async def state(request: web.Request) -> web.Response:
    gw = _gateway(request)
    body = gw.state_snapshot()
    metering = gw.recorder.snapshot()
    fleet = gw.slots.snapshot()
    for name, b in body["backends"].items():
        meter = metering.get(name, {})
        b["slots_by_tier"] = meter.pop("slots_by_tier", {})
        b["reserve_in_use"] = {
            "reserved": b.get("reserved_inflight", 0),
            "borrowed": b.get("borrowed_inflight", 0),
        }
        b["cost"] = meter
        if name in fleet:
            b["fleet"] = fleet[name]
    body["store"] = gw.store.status().to_json()
    return web.json_response(body)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/state", state)
    app.router.add_get("/admin/usage", usage)
    app.router.add_get("/admin/usage/export", export)
