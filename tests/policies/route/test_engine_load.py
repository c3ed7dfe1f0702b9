"""Engine load: engines' own queues and KV use, stale or missing reports count as busy."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from policies.protocols import EngineLoad
from policies.route.engine_load import EngineLoadRouter
from tests.policies.fakes import PROPERTIES, FakeBackend, ticket

NOW = 100.0


def load(waiting: float = 0, kv: float = 0.0, age_s: float = 0.0, running: float = 0) -> EngineLoad:
    return EngineLoad(waiting=waiting, running=running, kv_cache_usage=kv, scraped_at=NOW - age_s)


def test_fewer_waiting_requests_win() -> None:
    backends = [FakeBackend("a", engine_load=load(9)), FakeBackend("b", engine_load=load(2))]
    assert EngineLoadRouter().pick(ticket(), backends, NOW).name == "b"


def test_more_free_kv_cache_wins() -> None:
    backends = [
        FakeBackend("a", engine_load=load(kv=0.9)),
        FakeBackend("b", engine_load=load(kv=0.3)),
    ]
    assert EngineLoadRouter().pick(ticket(), backends, NOW).name == "b"


def test_weights_decide_between_signals() -> None:
    backends = [
        FakeBackend("queue-long", engine_load=load(waiting=8, kv=0.1)),
        FakeBackend("cache-full", engine_load=load(waiting=0, kv=0.95)),
    ]
    by_queue = EngineLoadRouter(waiting_weight=1.0, kv_cache_weight=0.1, inflight_weight=0)
    by_cache = EngineLoadRouter(waiting_weight=0.1, kv_cache_weight=1.0, inflight_weight=0)
    assert by_queue.pick(ticket(), backends, NOW).name == "cache-full"
    assert by_cache.pick(ticket(), backends, NOW).name == "queue-long"


def test_a_stale_report_counts_as_busy() -> None:
    router = EngineLoadRouter(stale_after_s=2.0)
    idle_but_stale = FakeBackend("a", engine_load=load(waiting=0, kv=0.0, age_s=2.5))
    fresh_and_busy = FakeBackend("b", engine_load=load(waiting=4, kv=0.6))
    assert router.pick(ticket(), [idle_but_stale, fresh_and_busy], NOW) is fresh_and_busy
    fresh = FakeBackend("a", engine_load=load(waiting=0, kv=0.0, age_s=1.5))
    assert router.pick(ticket(), [fresh, fresh_and_busy], NOW) is fresh


def test_a_missing_report_counts_as_busy() -> None:
    unknown = FakeBackend("a", engine_load=None)
    known = FakeBackend("b", engine_load=load(waiting=3, kv=0.5))
    assert EngineLoadRouter().pick(ticket(), [unknown, known], NOW) is known


def test_with_no_fresh_reports_the_gateways_own_count_decides() -> None:
    backends = [
        FakeBackend("a", inflight=5),
        FakeBackend("b", inflight=1),
        FakeBackend("c", inflight=3),
    ]
    assert EngineLoadRouter().pick(ticket(), backends, NOW).name == "b"


def test_ties_are_deterministic() -> None:
    backends = [FakeBackend(n, engine_load=load(1, 0.2)) for n in ("c", "a", "b")]
    assert EngineLoadRouter().pick(ticket(), backends, NOW).name == "a"


def test_it_asks_the_gateway_to_scrape_at_its_interval() -> None:
    assert EngineLoadRouter(interval_s=0.25, stale_after_s=1.0).metrics_interval_s == 0.25


@PROPERTIES
@given(
    reports=st.lists(
        st.one_of(
            st.none(),
            st.tuples(st.floats(0, 500), st.floats(-0.1, 1.2), st.floats(0, 10)),
        ),
        min_size=1,
        max_size=6,
    ),
    inflight=st.lists(st.integers(0, 20), min_size=6, max_size=6),
    weights=st.tuples(st.floats(0, 5), st.floats(0, 5), st.floats(0.01, 5)),
)
def test_scores_are_normalised(
    reports: list[tuple[float, float, float] | None],
    inflight: list[int],
    weights: tuple[float, float, float],
) -> None:
    router = EngineLoadRouter(
        waiting_weight=weights[0], kv_cache_weight=weights[1], inflight_weight=weights[2]
    )
    backends = [
        FakeBackend(
            f"b{i}",
            capacity=10,
            inflight=inflight[i],
            engine_load=None if r is None else load(waiting=r[0], kv=r[1], age_s=r[2]),
        )
        for i, r in enumerate(reports)
    ]
    scores = router.scores(backends, NOW)
    assert all(0.0 <= s <= 1.0 + 1e-12 for s in scores)
    assert router.pick(ticket(), backends, NOW) in backends
