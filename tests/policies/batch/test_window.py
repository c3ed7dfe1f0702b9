"""Window batching: groups of at least min_batch, or whatever waited max_wait_ms, never later."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.batch.window import WindowBatcher
from policies.protocols import QueueView, Release
from policies.ticket import Ticket
from tests.policies.fakes import PROPERTIES, ticket


def view(arrivals: list[float]) -> QueueView:
    return QueueView([ticket(i, arrival=a) for i, a in enumerate(arrivals)], 0, 0, backends=1)


@pytest.mark.parametrize(
    ("params", "arrivals", "now", "expected"),
    [
        pytest.param({}, [], 5.0, Release(0, None), id="nothing held"),
        pytest.param(
            {"max_wait_ms": 200, "min_batch": 8},
            [1.0, 1.05, 1.1],
            1.15,
            Release(0, 1.2),
            id="hold until the oldest's window closes",
        ),
        pytest.param(
            {"max_wait_ms": 200, "min_batch": 8},
            [1.0] * 8,
            1.0,
            Release(8, None),
            id="min_batch reached",
        ),
        pytest.param(
            {"max_wait_ms": 200, "min_batch": 8},
            [1.0, 1.1],
            1.2,
            Release(2, None),
            id="window closed",
        ),
        pytest.param(
            {"max_wait_ms": 200, "min_batch": 8},
            [1.0, 1.1],
            9.0,
            Release(2, None),
            id="long overdue",
        ),
        pytest.param(
            {"max_wait_ms": 200, "min_batch": 4, "max_batch": 4},
            [1.0] * 10,
            1.0,
            Release(4, 1.0),
            id="max_batch: next group already full",
        ),
        pytest.param(
            {"max_wait_ms": 200, "min_batch": 4, "max_batch": 4},
            [1.0, 1.0, 1.0, 1.0, 1.1, 1.15],
            1.15,
            Release(4, pytest.approx(1.3)),
            id="max_batch: remainder opens its own window",
        ),
        pytest.param(
            {"max_wait_ms": 200, "min_batch": 4, "max_batch": 4},
            [1.0] * 6,
            1.5,
            Release(4, 1.5),
            id="max_batch: overdue remainder follows",
        ),
        pytest.param(
            {"max_wait_ms": 0, "min_batch": 100}, [3.0], 3.0, Release(1, None), id="zero wait"
        ),
        pytest.param(
            {"max_wait_ms": 5000, "min_batch": 1}, [3.0], 3.0, Release(1, None), id="min_batch 1"
        ),
    ],
)
def test_plan(params: dict, arrivals: list[float], now: float, expected: Release) -> None:
    assert WindowBatcher(**params).plan(view(arrivals), free_slots=4, now=now) == expected


def test_free_slots_do_not_cap_or_delay_a_group() -> None:
    """Under load a continuous tier keeps free_slots at 0; the window tier must still release."""
    batcher = WindowBatcher(max_wait_ms=100, min_batch=3)
    assert batcher.plan(view([0.0, 0.0, 0.0]), free_slots=0, now=0.0) == Release(3, None)
    assert batcher.plan(view([0.0]), free_slots=0, now=0.1) == Release(1, None)


@PROPERTIES
@given(
    gaps=st.lists(st.floats(0.0, 0.3), min_size=1, max_size=60),
    max_wait_ms=st.sampled_from([0.0, 50.0, 200.0, 1000.0]),
    min_batch=st.integers(1, 12),
    extra=st.one_of(st.none(), st.integers(0, 6)),
    free_slots=st.integers(0, 5),
)
def test_an_event_driven_scheduler_gets_groups_and_no_late_ticket(
    gaps: list[float], max_wait_ms: float, min_batch: int, extra: int | None, free_slots: int
) -> None:
    """Call plan on every arrival and at every wake_at, as the scheduler does."""
    max_batch = None if extra is None else min_batch + extra
    batcher = WindowBatcher(max_wait_ms=max_wait_ms, min_batch=min_batch, max_batch=max_batch)
    max_wait_s = max_wait_ms / 1000
    arrivals, now = [], 0.0
    for gap in gaps:
        now += gap
        arrivals.append(now)
    pending = [ticket(i, arrival=a) for i, a in enumerate(arrivals)]
    held: list[Ticket] = []
    released: dict[Ticket, float] = {}
    wake: float | None = None
    for _ in range(10 * len(pending) + 10):
        if not pending and wake is None:
            break
        if pending and (wake is None or pending[0].arrival <= wake):
            t = pending.pop(0)
            now = t.arrival
            held.append(t)
        else:
            assert wake is not None
            now = wake
        decision = batcher.plan(QueueView(list(held), 0, 0, 1), free_slots, now)
        group, held = held[: decision.count], held[decision.count :]
        if group:
            assert len(group) >= min_batch or now >= group[0].arrival + max_wait_s - 1e-9
            assert max_batch is None or len(group) <= max_batch
            released.update((t, now) for t in group)
        wake = decision.wake_at
        if held:
            assert wake is not None and wake >= now, "held tickets need a timer"
        else:
            assert wake is None
    assert len(released) == len(arrivals), "every ticket is released"
    for t, at in released.items():
        assert at <= t.arrival + max_wait_s + 1e-9, "held past its window"
