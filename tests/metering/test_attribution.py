"""GPU cost attribution against worked examples.

Most examples run one GPU at $3.60/GPU-hour: $0.001 per second, 1_000_000 nano-dollars per
second, 1_000 per millisecond, so every expected number below is worked by hand.
"""

from __future__ import annotations

import pytest

from gateway.metering.attribution import BackendCostMeter, RequestCost
from gateway.metering.economics import cost_per_mtok_usd


def meter(gpus: int = 1, gpu_hour_usd: float = 3.6, **kwargs: float) -> BackendCostMeter:
    return BackendCostMeter(gpus, gpu_hour_usd, kwargs.pop("reserve", 0.0), 0.0, **kwargs)


def test_tokens_in_an_interval_split_its_cost() -> None:
    m = meter()
    m.dispatch("a", 0, 0.0, streamed=True)
    m.dispatch("b", 0, 0.0, streamed=True)
    m.tokens("a", 30, 0.5)
    m.tokens("b", 10, 0.5)
    a = m.finish("a", 1.0, 30)
    b = m.finish("b", 1.0, 10)
    assert a == RequestCost(cost_nano=750_000, gpu_seconds=0.75, tokens=30, attribution="streamed")
    assert b == RequestCost(cost_nano=250_000, gpu_seconds=0.25, tokens=10, attribution="streamed")


def test_prefill_counts_in_the_interval_it_was_dispatched_in() -> None:
    m = meter()
    m.dispatch("a", 0, 0.0, streamed=True)  # alone over [0, 1]: 1_000_000
    m.dispatch("b", 300, 1.0, streamed=True)
    m.tokens("a", 100, 1.5)
    # over [1, 2]: a 100 output tokens, b 300 prefill tokens
    assert m.finish("a", 2.0, 100).cost_nano == 1_000_000 + 250_000
    assert m.finish("b", 2.0, 0) == RequestCost(750_000, 0.75, 300, "streamed")


def test_a_batch_dispatched_at_one_instant_shares_one_interval() -> None:
    m = meter()
    for rid, prefill in (("a", 100), ("b", 200), ("c", 700)):
        m.dispatch(rid, prefill, 0.0, streamed=False)
    costs = [m.finish(rid, 1.0, 0).cost_nano for rid in "abc"]
    # decode weight 50 tok/s · 1 s each (the prior): 150 : 250 : 750 of 1_150, then carried
    assert costs == [130_434, 217_392, 652_174]


def test_time_with_nothing_in_flight_is_idle() -> None:
    m = meter()
    m.dispatch("a", 10, 2.0, streamed=True)
    assert m.finish("a", 3.0, 5).cost_nano == 1_000_000
    t = m.totals(5.0)
    assert (t.busy_cost_nano, t.idle_cost_nano, t.cost_nano) == (1_000_000, 4_000_000, 5_000_000)
    assert (t.gpu_seconds, t.idle_gpu_seconds, t.tokens, t.in_flight) == (5.0, 4.0, 15, 0)
    assert t.cost_per_mtok_usd == pytest.approx(333.333, rel=1e-5)  # 5e6 nano / 15 tokens


def test_totals_count_requests_in_flight_as_busy() -> None:
    m = meter()
    m.dispatch("a", 10, 1.0, streamed=True)
    t = m.totals(4.0)
    assert (t.busy_cost_nano, t.idle_cost_nano, t.in_flight) == (3_000_000, 1_000_000, 1)
    assert m.finish("a", 4.0, 0).cost_nano == 3_000_000  # totals closed the interval at 4


def test_an_interval_without_tokens_splits_equally() -> None:
    m = meter()
    m.dispatch("a", 0, 0.0, streamed=True)
    m.dispatch("b", 0, 0.0, streamed=True)
    assert m.finish("a", 1.0, 0).cost_nano == 500_000
    assert m.finish("b", 1.0, 0).cost_nano == 500_000


def test_spread_requests_weigh_the_streamed_mean() -> None:
    m = meter()
    m.dispatch("a", 0, 0.0, streamed=True)
    m.dispatch("d", 0, 0.0, streamed=True)
    m.dispatch("b", 0, 0.0, streamed=False)
    m.dispatch("c", 0, 0.0, streamed=False)
    m.tokens("a", 30, 0.5)
    m.tokens("d", 10, 0.5)
    # streamed mean 20: weights a 30, d 10, b 20, c 20 of 80
    got = {rid: m.finish(rid, 1.0, 20) for rid in "adbc"}
    assert {rid: c.cost_nano for rid, c in got.items()} == {
        "a": 375_000,
        "d": 125_000,
        "b": 250_000,
        "c": 250_000,
    }
    assert (got["a"].attribution, got["b"].attribution) == ("streamed", "spread")
    assert got["b"].tokens == 20


def test_spread_requests_decode_only_when_streamed_peers_do() -> None:
    m = meter()
    m.dispatch("a", 0, 0.0, streamed=True)
    m.dispatch("b", 100, 0.0, streamed=False)
    # no step ended in [0, 1]: a streamed nothing, so b's weight is its prefill alone
    assert m.finish("a", 1.0, 0).cost_nano == 0
    assert m.finish("b", 1.0, 7).cost_nano == 1_000_000


def test_without_streamed_peers_spread_requests_decode_at_the_estimated_rate() -> None:
    m = meter(decode_rate_prior=50.0)
    m.dispatch("a", 0, 0.0, streamed=False)
    m.dispatch("b", 100, 0.0, streamed=False)
    # each decoded about 50 tokens in [0, 1]; b also prefilled 100: 50 : 150
    assert m.finish("a", 1.0, 50).cost_nano == 250_000
    assert m.finish("b", 1.0, 50).cost_nano == 750_000


def test_the_decode_rate_is_learned_from_finished_requests() -> None:
    m = meter(decode_rate_prior=50.0)
    m.dispatch("a", 0, 0.0, streamed=False)
    m.finish("a", 2.0, 300)  # 150 tok/s observed; EWMA weight 0.2: 50 + 0.2·100
    assert m.decode_rate == 70.0
    m.dispatch("b", 0, 2.0, streamed=False)
    m.dispatch("c", 70, 2.0, streamed=False)
    # [2, 3]: b decodes ~70, c prefills 70 and decodes ~70: 70 : 140
    assert m.finish("b", 3.0, 0).cost_nano == 333_333
    assert m.finish("c", 3.0, 0).cost_nano == 666_667


def test_streamed_requests_reconcile_with_the_engine_count() -> None:
    m = meter()
    m.dispatch("a", 0, 0.0, streamed=True)
    m.dispatch("b", 0, 0.0, streamed=True)
    m.tokens("a", 10, 0.5)  # the engine packed 30 tokens into the chunks seen as 10
    m.tokens("b", 20, 0.5)
    assert m.finish("a", 1.0, 30) == RequestCost(600_000, 0.6, 30, "streamed")
    assert m.finish("b", 1.0, 20).cost_nano == 400_000


def test_a_token_event_after_max_interval_closes_the_interval() -> None:
    m = meter(max_interval=1.0)
    m.dispatch("a", 0, 0.0, streamed=True)
    m.dispatch("b", 0, 0.0, streamed=True)
    m.tokens("a", 30, 0.5)
    m.tokens("b", 10, 1.5)  # closes [0, 1.5]: 30 : 10 of 1_500_000
    m.tokens("b", 30, 2.0)
    # [1.5, 2.5]: only b streamed
    assert m.finish("a", 2.5, 30).cost_nano == 1_125_000
    assert m.finish("b", 2.5, 40).cost_nano == 375_000 + 1_000_000


def test_a_zero_length_finish_does_not_sway_the_streamed_mean() -> None:
    m = meter()
    for rid, streamed in (("a", True), ("d", True), ("c", False), ("x", True)):
        m.dispatch(rid, 0, 0.0, streamed=streamed)
    assert m.finish("x", 1.0, 0).cost_nano == 250_000  # [0, 1] split four ways
    m.tokens("a", 20, 1.0)
    assert m.finish("a", 1.0, 20).cost_nano == 250_000  # nothing elapsed since 1.0
    m.tokens("d", 10, 2.0)
    # [1, 2]: d streamed 10, c weighs the mean of the one streamed request left: 10
    assert m.finish("d", 2.0, 10).cost_nano == 750_000
    assert m.finish("c", 2.0, 10).cost_nano == 750_000


def test_share_scales_the_cost_this_replica_attributes() -> None:
    m = meter()
    m.dispatch("a", 0, 0.0, streamed=True)
    m.set_share(0.25, 1.0)  # closes [0, 1] at the full rate
    assert m.finish("a", 3.0, 0) == RequestCost(1_500_000, 1.5, 0, "streamed")
    t = m.totals(7.0)
    assert (t.busy_cost_nano, t.idle_cost_nano, t.gpu_seconds) == (1_500_000, 1_000_000, 2.5)


def test_a_zero_share_attributes_nothing() -> None:
    m = meter(share=0.0)
    m.dispatch("a", 0, 0.0, streamed=True)
    assert m.finish("a", 10.0, 0).cost_nano == 0


def test_two_dollars_an_hour_at_ten_thousand_tokens_a_second() -> None:
    """$2/GPU-hour is 555_555.6 nano-dollars a second: at 10k tokens/s, $0.0556 per 1M."""
    m = meter(gpu_hour_usd=2.0)
    ids = [f"r{i}" for i in range(10)]
    for rid in ids:
        m.dispatch(rid, 0, 0.0, streamed=True)
    for step in range(1, 11):
        for rid in ids:
            m.tokens(rid, 100, step / 10)
    costs = [m.finish(rid, 1.0, 1000) for rid in ids]
    assert sum(c.cost_nano for c in costs) == 555_555  # floor of 555_555.6
    assert {c.cost_nano for c in costs} == {55_555, 55_556}
    assert round(cost_per_mtok_usd(sum(c.cost_nano for c in costs), 10_000), 4) == 0.0556


def test_finish_is_once_only_and_late_tokens_are_dropped() -> None:
    m = meter()
    m.dispatch("a", 0, 0.0, streamed=True)
    m.finish("a", 1.0, 0)
    m.tokens("a", 5, 1.5)
    with pytest.raises(KeyError):
        m.finish("a", 2.0, 5)
    with pytest.raises(KeyError):
        m.finish("never", 2.0, 5)


def test_dispatching_an_id_twice_is_an_error() -> None:
    m = meter()
    m.dispatch("a", 0, 0.0, streamed=True)
    with pytest.raises(ValueError, match="already in flight"):
        m.dispatch("a", 0, 0.5, streamed=True)


def test_a_clock_that_steps_back_counts_as_no_time() -> None:
    m = meter()
    m.dispatch("a", 0, 1.0, streamed=True)
    assert m.finish("a", 0.5, 0).cost_nano == 0
    assert m.totals(0.25).cost_nano == 1_000_000  # only the idle [0, 1]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gpus": 0},
        {"gpu_hour_usd": -1.0},
        {"reserve": 1.0},
        {"share": 1.5},
        {"max_interval": 0.0},
        {"reserve_window": 0.0},
        {"decode_rate_prior": 0.0},
    ],
)
def test_rejects_impossible_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must|need"):
        meter(**kwargs)
