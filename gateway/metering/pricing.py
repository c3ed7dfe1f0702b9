"""Token pricing: what a request is charged, what admission reserves, and the price a cost implies.

Prices are USD per 1M tokens, held as integer nano-dollars per 1M tokens; every charge is
an integer number of nano-dollars (1e-9 USD), computed exactly and rounded once, upwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from gateway.metering.record import NANO_PER_USD

PER_MTOK = 1_000_000  # prices are quoted per this many tokens


def usd_to_nano(usd: float) -> int:
    """USD → nano-dollars, rounded half-even at the 9th decimal.

    Converts the decimal the float prints as (``repr``), not its binary value: a configured
    ``1.001`` is exactly 1_001_000_000 nano-dollars, where ``int(1.001 * 1e9)`` is one short.
    """
    if not math.isfinite(usd):
        raise ValueError(f"not a finite amount of money: {usd!r}")
    return int((Decimal(repr(usd)) * NANO_PER_USD).to_integral_value(ROUND_HALF_EVEN))


def _ceil_div(num: int, den: int) -> int:
    return -(-num // den)


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per 1M input, cached-input and output tokens; cached_input None means the input price.

    Field names match the tier config's ``prices`` block: ``Prices(**tier.prices.model_dump())``.
    Prices resolve to whole nano-dollars per 1M tokens (1e-15 USD per token); the ``*_nano``
    fields hold them so the hot path never touches floats or Decimals.
    """

    input: float = 0.0
    cached_input: float | None = None
    output: float = 0.0
    input_nano: int = field(init=False, repr=False, compare=False)
    cached_input_nano: int = field(init=False, repr=False, compare=False)
    output_nano: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cached = self.input if self.cached_input is None else self.cached_input
        for name, usd in (("input", self.input), ("cached_input", cached), ("output", self.output)):
            if not usd >= 0:  # also rejects NaN
                raise ValueError(f"price {name} must be >= 0 USD per 1M tokens, got {usd!r}")
        object.__setattr__(self, "input_nano", usd_to_nano(self.input))
        object.__setattr__(self, "cached_input_nano", usd_to_nano(cached))
        object.__setattr__(self, "output_nano", usd_to_nano(self.output))

    @classmethod
    def from_nano(cls, input_nano: int, cached_input_nano: int, output_nano: int) -> Prices:
        """Prices given in nano-dollars per 1M tokens (exact below $1M per 1M tokens)."""
        return cls(
            input=input_nano / NANO_PER_USD,
            cached_input=cached_input_nano / NANO_PER_USD,
            output=output_nano / NANO_PER_USD,
        )


def _priced_tokens(prices: Prices, prompt: int, cached: int, completion: int) -> int:
    """(prompt - cached)·p_in + cached·p_cached + completion·p_out, in nano-dollars·1M (exact)."""
    return (
        (prompt - cached) * prices.input_nano
        + cached * prices.cached_input_nano
        + completion * prices.output_nano
    )


def charge_nano(
    prices: Prices, prompt_tokens: int, cached_tokens: int, completion_tokens: int
) -> int:
    """⌈((prompt - cached)·p_in + cached·p_cached + completion·p_out) / 1M⌉ nano-dollars.

    Prices in nano-dollars per 1M tokens, so the sum is an exact integer and is divided once.
    Rounding is upwards: a request never earns less than its exact price, and overpays by
    less than one nano-dollar. ``prompt_tokens`` includes the cached ones (OpenAI's usage);
    an engine reporting more cached than prompt tokens is clamped to all-cached.
    """
    if prompt_tokens < 0 or cached_tokens < 0 or completion_tokens < 0:
        raise ValueError(
            f"token counts must be >= 0: prompt={prompt_tokens} cached={cached_tokens} "
            f"completion={completion_tokens}"
        )
    cached = min(cached_tokens, prompt_tokens)
    return _ceil_div(_priced_tokens(prices, prompt_tokens, cached, completion_tokens), PER_MTOK)


def estimate_nano(prices: Prices, prompt_tokens: int, max_tokens: int) -> int:
    """Budget to reserve at admission: ⌈(prompt·max(p_in, p_cached) + max_tokens·p_out) / 1M⌉.

    The worst case for the counts given: no prompt token is cached (or, should cached input
    be priced higher, all are) and all ``max_tokens`` are generated. So for every
    ``cached <= prompt`` and ``completion <= max_tokens``, ``charge_nano <= estimate_nano``.
    """
    if prompt_tokens < 0 or max_tokens < 0:
        raise ValueError(f"token counts must be >= 0: prompt={prompt_tokens} max={max_tokens}")
    worst_input = max(prices.input_nano, prices.cached_input_nano)
    return _ceil_div(prompt_tokens * worst_input + max_tokens * prices.output_nano, PER_MTOK)


def margin_ratio(revenue: float, cost: float) -> float | None:
    """Gross margin on the price: (revenue - cost) / revenue; None when there is no revenue.

    This is the margin, not the markup ((price - cost) / cost): a 50 % margin doubles cost.
    """
    return (revenue - cost) / revenue if revenue else None


def _exact(x: float) -> Fraction:
    return Fraction(Decimal(repr(x)))


def _check_margin(margin: float) -> Fraction:
    if not margin < 1:  # also rejects NaN
        raise ValueError(f"margin is (price - cost)/price and must be < 1, got {margin!r}")
    return 1 - _exact(margin)


def price_at_margin(cost_per_mtok_usd: float, margin: float = 0.0) -> float:
    """USD per 1M tokens that earns ``margin`` over a cost per 1M tokens: cost / (1 - margin).

    ``margin = (price - cost) / price`` (see ``margin_ratio``); 0 is break-even, negative
    sells below cost. Rounded up to a whole nano-dollar per 1M tokens, so it always covers.
    Use the GPU cost per 1M output tokens to price output only, or per 1M tokens for a flat price.
    """
    if not cost_per_mtok_usd >= 0:
        raise ValueError(f"cost must be >= 0 USD per 1M tokens, got {cost_per_mtok_usd!r}")
    nano = math.ceil(_exact(cost_per_mtok_usd) * NANO_PER_USD / _check_margin(margin))
    return nano / NANO_PER_USD


def break_even_price(cost_per_mtok_usd: float) -> float:
    """The price per 1M tokens at which charge equals GPU cost: ``price_at_margin(cost, 0)``."""
    return price_at_margin(cost_per_mtok_usd, 0.0)


def prices_at_margin(
    shape: Prices,
    cost_nano: int,
    prompt_tokens: int,
    cached_tokens: int,
    completion_tokens: int,
    *,
    margin: float = 0.0,
) -> Prices:
    """``shape`` scaled so this token mix earns ``cost / (1 - margin)``: every price times s,

    s = cost_nano / ((1 - margin) · charge_of_mix(shape)), charge taken exactly (unrounded).
    Keeps a tier's price ratios (DeepSeek's cached input at a tenth of input, say) while
    solving for its level; ``Prices(output=1)`` solves an output-only price. Each price is
    rounded up to a whole nano-dollar per 1M tokens, so the mix's charge never falls short.
    """
    if cost_nano < 0:
        raise ValueError(f"cost must be >= 0 nano-dollars, got {cost_nano}")
    cached = min(cached_tokens, prompt_tokens)
    priced = _priced_tokens(shape, prompt_tokens, cached, completion_tokens)
    if priced <= 0:
        raise ValueError("the token mix earns nothing at these prices: no scale can cover a cost")
    scale = Fraction(cost_nano * PER_MTOK, priced) / _check_margin(margin)
    return Prices.from_nano(
        math.ceil(shape.input_nano * scale),
        math.ceil(shape.cached_input_nano * scale),
        math.ceil(shape.output_nano * scale),
    )
