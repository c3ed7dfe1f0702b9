"""Admission: per-key rate limits (RPM, TPM) and per-tenant budgets, decided by the Store.

Runs after the prompt is counted and capped. Rate limits first: GCRA per minute on requests
and on tokens (prompt + max_tokens·n, as OpenAI counts them); the ``x-ratelimit-*`` headers
go on every answer, a refusal is 429 ``rate_limit_exceeded`` with ``Retry-After``. A request
the budget then refuses has used its rate-limit slot (every request counts, refused or not).

Budgets: the key's ``budget`` applies to its tenant's spend (keys of one tenant share it).
Admission reserves the worst case, ``estimate_nano(prompt, max_tokens·n)`` at the tier's
prices, atomically against spend + other reservations, so concurrent requests across replicas
never overspend; a refusal is 429 ``insufficient_quota`` (OpenAI's code). The recorder settles
the reservation with the actual charge, or releases it when the request ends without running.

While Redis is unreachable the store decides on this replica's share of each limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.errors import APIError, retry_headers
from gateway.metering.billing import tier_prices
from gateway.metering.pricing import estimate_nano, usd_to_nano
from gateway.pipeline.context import RequestContext
from gateway.state.store import Budget, BudgetDecision, RateDecision, RateLimits

if TYPE_CHECKING:
    from gateway.runtime import Gateway


class Admission:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    async def admit(self, ctx: RequestContext, n: int = 1) -> None:
        """Raise a 429 APIError, or admit (headers in ``ctx.response_headers``, budget held)."""
        key, tier = ctx.key, ctx.tier
        assert key is not None and tier is not None
        output = ctx.max_tokens * n
        if key.rpm is not None or key.tpm is not None:
            limits = RateLimits(rpm=key.rpm, tpm=key.tpm)
            rate = await self.gw.store.check_rate(key.key_id, limits, ctx.prompt_tokens + output)
            ctx.response_headers.update(rate.headers())
            if not rate.allowed:
                raise self._rate_refused(ctx, rate)
        if key.budget is not None:
            amount = estimate_nano(tier_prices(tier.prices), ctx.prompt_tokens, output)
            budget = Budget(usd_to_nano(key.budget.usd), key.budget.period)
            held = await self.gw.store.reserve_budget(ctx.tenant, ctx.request_id, amount, budget)
            if not held.allowed:
                raise self._budget_refused(ctx, held)
            ctx.budget_reserved_nano = amount

    def _rate_refused(self, ctx: RequestContext, rate: RateDecision) -> APIError:
        if rate.too_large:
            reason = "tpm_too_large"
            message = (
                f"Request too large: it needs {ctx.prompt_tokens} prompt tokens plus its "
                f"max_tokens, more than this key's limit of {rate.limit_tokens} tokens per "
                "minute. Lower max_tokens or shorten the prompt."
            )
        elif rate.limit_requests is not None and rate.remaining_requests == 0:
            reason = "rpm"
            message = (
                f"Rate limit reached: {rate.limit_requests} requests per minute for this key. "
                f"Retry after {rate.retry_after_s:.1f}s."
            )
        else:
            reason = "tpm"
            message = (
                f"Rate limit reached: {rate.limit_tokens} tokens per minute for this key "
                f"(prompt + max_tokens). Retry after {rate.retry_after_s:.1f}s."
            )
        self.gw.metrics.child("rate_limited", ctx.tenant, reason).inc()
        return APIError(
            429,
            message,
            code="rate_limit_exceeded",
            type="rate_limit_error",
            headers={**rate.headers(), **retry_headers(rate.retry_after_s)},
        )

    def _budget_refused(self, ctx: RequestContext, held: BudgetDecision) -> APIError:
        self.gw.metrics.child("rate_limited", ctx.tenant, "budget").inc()
        period = ctx.key.budget.period if ctx.key and ctx.key.budget else "period"
        return APIError(
            429,
            f"You exceeded your current quota for this {period}: the budget of tenant "
            f"'{ctx.tenant}' cannot cover this request's worst-case cost. Lower max_tokens, "
            "or wait for running requests to settle or for the budget to reset.",
            code="insufficient_quota",
            type="insufficient_quota",
            headers=retry_headers(held.retry_after_s),
        )
