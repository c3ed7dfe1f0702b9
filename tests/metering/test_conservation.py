"""Conservation: whatever the events, request costs + idle cost == elapsed cost, exactly."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given
from hypothesis import strategies as st

from gateway.metering.attribution import BackendCostMeter, RequestCost

Op = tuple

ops = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.integers(0, 2_000)),  # milliseconds
        st.tuples(st.just("dispatch"), st.integers(0, 4_000), st.booleans(), st.booleans()),
        st.tuples(st.just("tokens"), st.integers(0, 63), st.integers(1, 64)),
        st.tuples(st.just("finish"), st.integers(0, 63), st.integers(0, 500)),
        st.tuples(st.just("share"), st.sampled_from([1.0, 0.5, 0.25, 0.0])),
    ),
    max_size=80,
)


@dataclass
class Run:
    meter: BackendCostMeter
    now: float = 0.0
    in_flight: list[str] = field(default_factory=list)
    costs: list[RequestCost] = field(default_factory=list)


def play(meter: BackendCostMeter, script: list[Op], clock: list[float]) -> Run:
    """Applies ``script``; ``clock`` yields each wait's length in seconds, in order."""
    run, waits = Run(meter), iter(clock)
    for n, op in enumerate(script):
        kind = op[0]
        if kind == "wait":
            run.now += next(waits)
        elif kind == "dispatch":
            rid = f"r{n}"
            meter.dispatch(rid, op[1], run.now, streamed=op[2], uses_reserve=op[3])
            run.in_flight.append(rid)
        elif kind == "share":
            meter.set_share(op[1], run.now)
        elif run.in_flight:
            rid = run.in_flight[op[1] % len(run.in_flight)]
            if kind == "tokens":
                meter.tokens(rid, op[2], run.now)
            else:
                run.in_flight.remove(rid)
                run.costs.append(meter.finish(rid, run.now, op[2]))
    run.now += 1.0
    for rid in run.in_flight:
        run.costs.append(meter.finish(rid, run.now, 7))
    return run


@given(ops, st.integers(1, 8))
def test_request_and_idle_costs_sum_to_elapsed_cost(script: list[Op], gpus: int) -> None:
    """$3.60/GPU-hour is 1_000 nano-dollars per GPU-millisecond: elapsed cost is easy to know."""
    meter = BackendCostMeter(gpus, 3.6, 0.25, 0.0, max_interval=0.5)
    waits = [op[1] / 1000 for op in script if op[0] == "wait"]
    run = play(meter, script, waits)
    # nano-dollars per millisecond at each share, applied to each wait under the share then in force
    expected, share, ms = 0, 1.0, iter(op[1] for op in script if op[0] == "wait")
    for op in script:
        if op[0] == "share":
            share = op[1]
        elif op[0] == "wait":
            expected += next(ms) * int(1_000 * share) * gpus
    expected += int(1_000 * share) * gpus * 1_000  # the final second
    t = meter.totals(run.now)
    assert sum(c.cost_nano for c in run.costs) + t.idle_cost_nano == expected
    assert t.busy_cost_nano == sum(c.cost_nano for c in run.costs)
    assert all(c.cost_nano >= 0 for c in run.costs)
    assert t.in_flight == 0
    assert t.tokens == sum(c.tokens for c in run.costs)
    gpu_s = sum(c.gpu_seconds for c in run.costs) + t.idle_gpu_seconds
    assert abs(gpu_s - t.gpu_seconds) <= 1e-9 * (1 + t.gpu_seconds)
    assert t.reserve_used_gpu_seconds <= t.reserved_gpu_seconds + 1e-12
    assert t.reserve_borrowed_gpu_seconds >= 0


@given(
    ops,
    st.lists(st.floats(0, 3, allow_nan=False), min_size=80, max_size=80),
    st.floats(0.01, 40, allow_nan=False),
)
def test_conservation_holds_at_awkward_prices_and_times(
    script: list[Op], waits: list[float], gpu_hour_usd: float
) -> None:
    meter = BackendCostMeter(3, gpu_hour_usd, 0.0, 0.0, max_interval=0.25)
    run = play(meter, script, waits)
    t = meter.totals(run.now)
    assert sum(c.cost_nano for c in run.costs) + t.idle_cost_nano == t.cost_nano
    # and the whole is the elapsed GPU time at the price, to within the final floor
    exact = t.gpu_seconds * gpu_hour_usd / 3600 * 1e9
    assert exact - 1 - 1e-9 * exact <= t.cost_nano <= exact + 1e-9 * exact
