"""What a finished request is billed: its billable tokens, its tier's prices, its usage record.

Money is integer nano-dollars (see ``record.py`` for why not DESIGN's micro-dollars). Which
requests get a record at all is the recorder's rule; this module only turns one request that
reached a backend into its ``UsageRecord``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from gateway.config.schema import Prices as PriceConfig
from gateway.metering.pricing import Prices, charge_nano
from gateway.metering.record import Attribution, RecordStatus, UsageRecord, UsageSource
from gateway.pipeline.context import RequestContext

CLIENT_LEFT = 499


@lru_cache(maxsize=256)
def tier_prices(config: PriceConfig) -> Prices:
    """A tier's config prices as exact nano-dollar prices (the Decimal work runs once per tier)."""
    return Prices(input=config.input, cached_input=config.cached_input, output=config.output)


@dataclass(frozen=True, slots=True)
class GpuShare:
    """The GPU cost one request was attributed, summed over every backend it ran on."""

    cost_nano: int = 0
    gpu_seconds: float = 0.0
    attribution: Attribution = "streamed"

    def plus(self, cost_nano: int, gpu_seconds: float, attribution: Attribution) -> GpuShare:
        return GpuShare(self.cost_nano + cost_nano, self.gpu_seconds + gpu_seconds, attribution)


def billable_tokens(ctx: RequestContext) -> tuple[int, int, int, UsageSource]:
    """(prompt, cached, completion, source) to bill: zero when no backend ever took the work.

    Nothing is billed when the final backend was given back before output (every backend
    failed before the first byte) or when the engine answered with an error and produced
    nothing. A client that left is billed the prompt (the engine had it) and what was
    generated before it left; a stream that broke mid-way, what was generated.
    """
    prompt, cached, completion, source = ctx.usage_tokens()
    if ctx.grant is None:
        return 0, 0, 0, source
    refused = ctx.status >= 400 and ctx.status != CLIENT_LEFT
    if refused and ctx.engine_usage is None and ctx.first_token_at is None:
        return 0, 0, 0, source
    return prompt, cached, completion, source


def usage_record(ctx: RequestContext, gpu: GpuShare, *, end: float) -> UsageRecord:
    """The request's one usage record; ``end`` is monotonic (ts is derived as wall time)."""
    assert ctx.tier is not None and ctx.backend is not None
    prompt, cached, completion, source = billable_tokens(ctx)
    cached = min(cached, prompt)
    status: RecordStatus = ctx.outcome
    return UsageRecord(
        request_id=ctx.request_id,
        ts=ctx.arrival_wall + (end - ctx.arrival),
        tenant=ctx.tenant,
        key_id=ctx.key_id,
        tier=ctx.tier_name,
        model=ctx.model,
        backend=ctx.backend,
        prompt_tokens=prompt,
        cached_tokens=cached,
        completion_tokens=completion,
        usage_source=source,
        queue_ms=round(ctx.queue_s * 1000, 3),
        ttft_ms=(
            None
            if ctx.first_token_at is None
            else round((ctx.first_token_at - ctx.arrival) * 1000, 3)
        ),
        e2e_ms=round((end - ctx.arrival) * 1000, 3),
        charge_nano=charge_nano(tier_prices(ctx.tier.prices), prompt, cached, completion),
        gpu_cost_nano=gpu.cost_nano,
        gpu_seconds=gpu.gpu_seconds,
        attribution=gpu.attribution,
        used_reserve=ctx.grant is not None and ctx.grant.reserved,
        status=status,
    )
