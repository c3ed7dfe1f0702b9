"""Charges, admission estimates and price solving, against hand-worked examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.metering.pricing import (
    Prices,
    break_even_price,
    charge_nano,
    estimate_nano,
    margin_ratio,
    price_at_margin,
    prices_at_margin,
    usd_to_nano,
)

DEEPSEEK = Prices(input=0.28, cached_input=0.028, output=0.42)
CHEAP = Prices(input=0.14, cached_input=0.014, output=0.28)


@pytest.mark.parametrize(
    ("usd", "nano"),
    [
        (0.028, 28_000_000),
        (1.001, 1_001_000_000),  # 1.001 * 1e9 is 1000999999.9999999 in floats
        (0.00013, 130_000),  # and 0.00013 * 1e9 is 129999.99999999999
        (2.0, 2_000_000_000),
        (1e-9, 1),
        (0.0000000004, 0),  # below one nano-dollar: half-even rounds to 0
        (0.0, 0),
    ],
)
def test_usd_to_nano_uses_the_printed_decimal(usd: float, nano: int) -> None:
    assert usd_to_nano(usd) == nano


@pytest.mark.parametrize(
    ("prices", "prompt", "cached", "completion", "nano"),
    [
        # 400·0.28 + 600·0.028 + 200·0.42 = 112 + 16.8 + 84 = 212.8 µ$
        (DEEPSEEK, 1000, 600, 200, 212_800),
        # 4·0.14 + 3·0.014 + 1·0.28 = 0.56 + 0.042 + 0.28 = 0.882 µ$: micro-dollars would say 1 or 0
        (CHEAP, 7, 3, 1, 882),
        # one cached token at $0.028/1M earns 28 nano-dollars; micro-dollar rounding gave 0
        (DEEPSEEK, 1, 1, 0, 28),
        (DEEPSEEK, 10, 10, 0, 280),
        # a million tokens at each price is exactly the price
        (DEEPSEEK, 1_000_000, 0, 0, 280_000_000),
        (DEEPSEEK, 1_000_000, 1_000_000, 0, 28_000_000),
        (DEEPSEEK, 0, 0, 1_000_000, 420_000_000),
        (DEEPSEEK, 0, 0, 0, 0),
        # cached_input None charges cached tokens at the input price: 10·0.5 + 10·2 = 25 µ$
        (Prices(input=0.5, output=2.0), 10, 4, 10, 25_000),
        # cached beyond prompt is clamped to all-cached: 5·0.028 = 0.14 µ$
        (DEEPSEEK, 5, 9, 0, 140),
    ],
)
def test_charge(prices: Prices, prompt: int, cached: int, completion: int, nano: int) -> None:
    assert charge_nano(prices, prompt, cached, completion) == nano


@pytest.mark.parametrize(
    ("tokens", "nano"),
    [(1, 1), (2, 1), (3, 2), (4, 2), (0, 0)],  # 0.5 nano per token, rounded up once per request
)
def test_charge_rounds_up_once(tokens: int, nano: int) -> None:
    assert charge_nano(Prices(input=0.0005), tokens, 0, 0) == nano


def test_charge_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="token counts"):
        charge_nano(DEEPSEEK, -1, 0, 0)


@pytest.mark.parametrize(
    "kwargs", [{"input": -0.1}, {"cached_input": -1.0}, {"output": float("nan")}]
)
def test_prices_reject_negative_or_nan(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="price"):
        Prices(**kwargs)


@pytest.mark.parametrize(
    ("prices", "prompt", "max_tokens", "nano"),
    [
        (DEEPSEEK, 1000, 500, 490_000),  # 1000·0.28 + 500·0.42 = 280 + 210 µ$, nothing cached
        (Prices(input=0.1, cached_input=0.2), 10, 0, 2_000),  # cached dearer: all cached, 10·0.2
        (CHEAP, 1, 1, 420),  # 0.14 + 0.28 µ$
    ],
)
def test_estimate(prices: Prices, prompt: int, max_tokens: int, nano: int) -> None:
    assert estimate_nano(prices, prompt, max_tokens) == nano


prices_st = st.builds(
    Prices,
    input=st.floats(0, 100, allow_nan=False),
    cached_input=st.none() | st.floats(0, 100, allow_nan=False),
    output=st.floats(0, 100, allow_nan=False),
)


@given(prices_st, st.integers(0, 200_000), st.data())
def test_estimate_bounds_every_charge(prices: Prices, prompt: int, data: st.DataObject) -> None:
    max_tokens = data.draw(st.integers(0, 100_000))
    cached = data.draw(st.integers(0, prompt))
    completion = data.draw(st.integers(0, max_tokens))
    assert charge_nano(prices, prompt, cached, completion) <= estimate_nano(
        prices, prompt, max_tokens
    )


@pytest.mark.parametrize(
    ("revenue", "cost", "ratio"),
    [(0.28, 0.07, 0.75), (2, 1, 0.5), (1, 1, 0.0), (1, 2, -1.0), (0, 1, None)],
)
def test_margin_is_on_price_not_markup(revenue: float, cost: float, ratio: float | None) -> None:
    assert margin_ratio(revenue, cost) == ratio


@pytest.mark.parametrize(
    ("cost", "margin", "price"),
    [
        (0.0556, 0.0, 0.0556),
        (0.0556, 0.5, 0.1112),  # 50 % margin: price twice the cost
        (0.0556, 0.8, 0.278),
        (0.0556, 0.75, 0.2224),
        (0.2, -0.25, 0.16),  # selling below cost
        (0.000000001, 0.6, 0.000000003),  # 2.5 nano per 1M, rounded up to 3
        (0.0, 0.9, 0.0),
    ],
)
def test_price_at_margin(cost: float, margin: float, price: float) -> None:
    assert price_at_margin(cost, margin) == price


def test_break_even_is_the_cost() -> None:
    assert break_even_price(0.0556) == 0.0556


@pytest.mark.parametrize("margin", [1.0, 1.5, float("nan")])
def test_margin_must_stay_below_one(margin: float) -> None:
    with pytest.raises(ValueError, match="margin"):
        price_at_margin(0.1, margin)


@pytest.mark.parametrize(
    ("shape", "cost", "mix", "margin", "solved"),
    [
        # the mix earns 212_800 nano at DeepSeek prices: cost 106_400 at 50 % margin solves to them
        (DEEPSEEK, 106_400, (1000, 600, 200), 0.5, DEEPSEEK),
        # a quarter of that cost at break-even: every price a quarter
        (DEEPSEEK, 53_200, (1000, 600, 200), 0.0, Prices(0.07, 0.007, 0.105)),
        # output-only: 55_556 nano over 1000 output tokens is $0.055556 per 1M
        (Prices(output=1), 55_556, (500, 0, 1000), 0.0, Prices(0, 0, 0.055556)),
        # 1 nano over 3 output tokens: 333_333.3 nano per 1M, rounded up
        (Prices(output=1), 1, (0, 0, 3), 0.0, Prices(0, 0, 0.000333334)),
    ],
)
def test_prices_at_margin_keeps_the_shape(
    shape: Prices, cost: int, mix: tuple[int, int, int], margin: float, solved: Prices
) -> None:
    assert prices_at_margin(shape, cost, *mix, margin=margin) == solved


def test_prices_at_margin_needs_a_mix_that_earns() -> None:
    with pytest.raises(ValueError, match="earns nothing"):
        prices_at_margin(Prices(output=1), 100, 50, 0, 0)
