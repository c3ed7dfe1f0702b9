"""Admission through a running gateway: per-key rate limits with OpenAI's headers, per-tenant
budgets reserved at admission, settled at completion, released when the request never runs."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.fixtures.stack import MODEL, Stack, gateway_stack
from tests.gateway.metering.admin_client import usage

LIMITED = "sk-test-limited-rpm"
TOKENS = "sk-test-limited-tpm"
BUDGETED = "sk-test-budgeted"
IDS_1000 = [1] * 1000
HI = [{"role": "user", "content": "hi"}]


def limited_keys(tree: dict[str, Any]) -> None:
    tree["backends"] = tree["backends"][:1]
    tree["keys"] += [
        {"key": LIMITED, "tenant": "small", "tier": "fast", "rpm": 2},
        {"key": TOKENS, "tenant": "small", "tier": "fast", "tpm": 100},
        # fast tier: 1000 prompt + 500 output tokens reserve $0.0018; $0.003 holds one
        {"key": BUDGETED, "tenant": "capped", "tier": "fast", "budget": {"usd": 0.003}},
    ]


async def test_rpm_limit_answers_429_with_retry_after_and_ratelimit_headers() -> None:
    async with gateway_stack(n_sims=1, patch=limited_keys, time_scale=200) as stack:
        client = stack.client(LIMITED)
        remaining = []
        for _ in range(2):
            raw = await client.chat.completions.with_raw_response.create(
                model=MODEL, messages=HI, max_tokens=2
            )
            assert raw.headers["x-ratelimit-limit-requests"] == "2"
            assert raw.headers["x-ratelimit-reset-requests"].endswith("s")
            remaining.append(raw.headers["x-ratelimit-remaining-requests"])
        assert remaining == ["1", "0"]

        with pytest.raises(openai.RateLimitError) as refused:
            await client.chat.completions.create(model=MODEL, messages=HI, max_tokens=2)
        err = refused.value
        assert err.code == "rate_limit_exceeded"
        assert err.body is not None and err.body["type"] == "rate_limit_error"
        headers = err.response.headers
        # One request every 30 s at 2 per minute, less the time the first two took.
        retry_ms = int(headers["retry-after-ms"])
        assert 20_000 < retry_ms <= 30_000
        assert int(headers["Retry-After"]) == -(-retry_ms // 1000)
        assert headers["x-ratelimit-limit-requests"] == "2"
        assert headers["x-ratelimit-remaining-requests"] == "0"
        await stack.settle()
        assert (await usage(stack.url, tenant="small"))["total"]["requests"] == 2


async def test_a_request_over_the_token_limit_is_refused_as_too_large() -> None:
    async with gateway_stack(n_sims=1, patch=limited_keys, time_scale=200) as stack:
        client = stack.client(TOKENS)
        ok = await client.chat.completions.with_raw_response.create(
            model=MODEL, messages=HI, max_tokens=5
        )
        assert ok.headers["x-ratelimit-limit-tokens"] == "100"
        assert int(ok.headers["x-ratelimit-remaining-tokens"]) < 100
        with pytest.raises(openai.RateLimitError) as refused:
            await client.chat.completions.create(model=MODEL, messages=HI, max_tokens=500)
        assert refused.value.code == "rate_limit_exceeded"
        assert "too large" in refused.value.message


async def test_budget_is_reserved_released_when_unused_and_settled_when_used() -> None:
    async with gateway_stack(n_sims=1, patch=limited_keys, time_scale=200) as stack:
        client = stack.client(BUDGETED)
        sim = stack.sims[0]

        # Admitted (the reservation fits), then no backend: the reservation must come back.
        await sim.kill()
        await _backends_down(stack)
        with pytest.raises(openai.InternalServerError) as unavailable:
            await client.completions.create(model=MODEL, prompt=IDS_1000, max_tokens=500)
        assert unavailable.value.status_code == 503
        await stack.settle()
        await sim.restart()
        await stack.gateway.health.probe_all()

        done = await client.completions.create(model=MODEL, prompt=IDS_1000, max_tokens=500)
        assert done.usage is not None and done.usage.completion_tokens == 500
        await stack.settle()

        # $0.0018 spent of $0.003: the next worst case no longer fits.
        with pytest.raises(openai.RateLimitError) as refused:
            await client.completions.create(model=MODEL, prompt=IDS_1000, max_tokens=500)
        err = refused.value
        assert err.code == "insufficient_quota"
        assert err.body is not None and err.body["type"] == "insufficient_quota"
        assert int(err.response.headers["Retry-After"]) >= 1
        # A smaller worst case still fits what is left.
        small = await client.completions.create(model=MODEL, prompt=IDS_1000, max_tokens=100)
        assert small.usage is not None
        await stack.settle()
        report = await usage(stack.url, tenant="capped")
        assert report["total"]["requests"] == 2
        assert report["total"]["charge_nano"] == 1_800_000 + 840_000


async def _backends_down(stack: Stack) -> None:
    while any(b.healthy for b in stack.gateway.backends.values()):
        await stack.gateway.health.probe_all()
