"""Contract: per-key GCRA rate limits per minute, identical numbers on both stores."""

from __future__ import annotations

import pytest

from gateway.state.store import RateLimits, Store
from tests.state.fakes import FakeClock

LIMITS = RateLimits(rpm=3, tpm=1000)


async def test_allows_until_the_limit_then_refuses_with_headers(
    store: Store, clock: FakeClock
) -> None:
    expected = [  # remaining/reset after each allowed request: 20 s per request, 6 s per 100 tok
        (2, 20.0, 900, 6.0),
        (1, 40.0, 800, 12.0),
        (0, 60.0, 700, 18.0),
    ]
    for remaining_req, reset_req, remaining_tok, reset_tok in expected:
        d = await store.check_rate("key-1", LIMITS, 100)
        assert d.allowed and d.retry_after_s == 0
        assert (d.remaining_requests, d.reset_requests_s) == (remaining_req, reset_req)
        assert (d.remaining_tokens, d.reset_tokens_s) == (remaining_tok, reset_tok)
    assert d.headers() == {
        "x-ratelimit-limit-requests": "3",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1m0s",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "700",
        "x-ratelimit-reset-tokens": "18s",
    }

    refused = await store.check_rate("key-1", LIMITS, 100)
    assert not refused.allowed and not refused.too_large
    assert refused.retry_after_s == 20.0  # one request interval
    assert refused.remaining_tokens == 700  # a refused request costs nothing


async def test_refused_request_fits_after_retry_after_and_the_bucket_refills(
    store: Store, clock: FakeClock
) -> None:
    for _ in range(3):
        assert (await store.check_rate("key-1", LIMITS, 100)).allowed
    refused = await store.check_rate("key-1", LIMITS, 100)
    clock.advance(refused.retry_after_s)
    again = await store.check_rate("key-1", LIMITS, 100)
    assert again.allowed and again.remaining_requests == 0
    clock.advance(60)
    full = await store.check_rate("key-1", LIMITS, 100)
    assert (full.remaining_requests, full.remaining_tokens) == (2, 900)


async def test_token_limit_refuses_with_the_time_until_the_tokens_fit(store: Store) -> None:
    limits = RateLimits(tpm=1000)
    assert (await store.check_rate("key-1", limits, 600)).allowed
    refused = await store.check_rate("key-1", limits, 600)
    assert not refused.allowed
    assert refused.retry_after_s == 12.0  # 1200 of 1000 tokens: 200 tokens at 60 ms each
    assert refused.limit_requests is None and refused.remaining_requests is None


async def test_a_request_larger_than_the_token_limit_can_never_pass(store: Store) -> None:
    d = await store.check_rate("key-1", RateLimits(tpm=1000), 1001)
    assert not d.allowed and d.too_large
    assert d.retry_after_s == 60.0
    assert (await store.check_rate("key-1", RateLimits(tpm=1000), 1000)).allowed


async def test_unlimited_key_is_always_allowed_without_headers(store: Store) -> None:
    d = await store.check_rate("key-1", RateLimits(), 10**9)
    assert d.allowed and d.headers() == {}


async def test_keys_are_limited_independently(store: Store) -> None:
    one = RateLimits(rpm=1)
    assert (await store.check_rate("key-1", one, 0)).allowed
    assert not (await store.check_rate("key-1", one, 0)).allowed
    assert (await store.check_rate("key-2", one, 0)).allowed


async def test_fractional_intervals_count_whole_requests(store: Store) -> None:
    d = await store.check_rate("key-1", RateLimits(rpm=7), 0)
    assert d.remaining_requests == 6  # 60/7 s per request must not round 6 down to 5


def test_rate_limits_reject_nonpositive_values() -> None:
    with pytest.raises(ValueError, match="rpm"):
        RateLimits(rpm=0)


async def test_negative_costs_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="tokens"):
        await store.check_rate("key-1", LIMITS, -1)
