"""The JSON access log line of a finished request: who, what, how long, what it used and earned.

Never a secret: the key appears only as its public ``key_id``, never the key or a prompt.
"""

from __future__ import annotations

import json
import logging

from gateway.metering.record import UsageRecord
from gateway.pipeline.context import RequestContext

access_log = logging.getLogger("tokengate.access")


def access_line(ctx: RequestContext, record: UsageRecord | None, end: float) -> str:
    """One compact JSON object; ``record`` is None for a request that never reached a backend."""
    if record is not None:
        prompt, cached, completion = (
            record.prompt_tokens,
            record.cached_tokens,
            record.completion_tokens,
        )
        source: str | None = record.usage_source
    else:
        prompt = cached = completion = 0
        source = None
    return json.dumps(
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
            "charge_nano": None if record is None else record.charge_nano,
            "gpu_cost_nano": None if record is None else record.gpu_cost_nano,
            "queue_ms": round(ctx.queue_s * 1000, 1),
            "ttft_ms": (
                round((ctx.first_token_at - ctx.arrival) * 1000, 1) if ctx.first_token_at else None
            ),
            "e2e_ms": round((end - ctx.arrival) * 1000, 1),
        },
        separators=(",", ":"),
    )
