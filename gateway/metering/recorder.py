"""Files each finished request: Prometheus, the JSON access log (placeholder until metering lands)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway.pipeline.context import RequestContext
from gateway.scheduling.scheduler import Grant

if TYPE_CHECKING:
    from gateway.runtime import Gateway

access_log = logging.getLogger("tokengate.access")


class Recorder:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def dispatched(self, ctx: RequestContext) -> None:
        return None

    def abandoned(self, ctx: RequestContext, grant: Grant) -> None:
        return None

    def refresh_gauges(self) -> None:
        return None

    def token_hook(self, ctx: RequestContext) -> Callable[[int, float], None] | None:
        return None

    async def finish(self, ctx: RequestContext) -> None:
        m = self.gw.metrics
        tier = ctx.tier_name or "-"
        model = ctx.model or "-"
        m.child("requests", model, tier, str(ctx.status)).inc()
        end = ctx.finished_at or time.monotonic()
        if ctx.grant is not None:
            m.child("queue_wait", model, tier).observe(ctx.queue_s)
            if ctx.first_token_at is not None:
                m.child("ttft", model, tier).observe(ctx.first_token_at - ctx.arrival)
            m.child("e2e", model, tier).observe(end - ctx.arrival)
        if self.gw.config.server.access_log:
            prompt, cached, completion, source = ctx.usage_tokens()
            access_log.info(
                json.dumps(
                    {
                        "ts": round(ctx.arrival_wall, 3),
                        "request_id": ctx.request_id,
                        "endpoint": ctx.endpoint,
                        "status": ctx.status,
                        "outcome": ctx.outcome,
                        "error": ctx.error_type,
                        "tenant": ctx.tenant or None,
                        "key_id": ctx.key_id or None,
                        "tier": ctx.tier_name or None,
                        "model": ctx.model or None,
                        "backend": ctx.backend,
                        "stream": ctx.stream,
                        "prompt_tokens": prompt,
                        "cached_tokens": cached,
                        "completion_tokens": completion,
                        "usage_source": source,
                        "queue_ms": round(ctx.queue_s * 1000, 1),
                        "ttft_ms": round((ctx.first_token_at - ctx.arrival) * 1000, 1) if ctx.first_token_at else None,
                        "e2e_ms": round((end - ctx.arrival) * 1000, 1),
                    },
                    separators=(",", ":"),
                )
            )
