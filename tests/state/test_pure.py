"""Pure pieces: periods, bucket plans, durations, key tags, GCRA edge cases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.state.gcra import gcra_step
from gateway.state.keys import KeySpace, hash_tag
from gateway.state.periods import hour_of, period_end, period_id, previous_period_id
from gateway.state.report import BucketPlan, plan_buckets
from gateway.state.store import RateLimits, format_duration


def ts(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()  # type: ignore[arg-type, misc]


@pytest.mark.parametrize(
    ("period", "when", "pid", "end"),
    [
        ("day", ts(2025, 1, 15, 23, 59, 59), "d20250115", ts(2025, 1, 16)),
        ("day", ts(2025, 1, 16), "d20250116", ts(2025, 1, 17)),
        ("month", ts(2025, 1, 31, 23), "m202501", ts(2025, 2, 1)),
        ("month", ts(2024, 12, 31, 12), "m202412", ts(2025, 1, 1)),
        ("month", ts(2024, 2, 29), "m202402", ts(2024, 3, 1)),
    ],
)
def test_periods_are_utc_calendar_periods(period: str, when: float, pid: str, end: float) -> None:
    assert period_id(period, when) == pid  # type: ignore[arg-type]
    assert period_end(period, when) == end  # type: ignore[arg-type]


H = 3600
D0 = 20_000  # a day index; its first hour is D0 * 24


@pytest.mark.parametrize(
    ("since", "until", "hours", "plan"),
    [
        (None, None, [], BucketPlan((), (), ())),
        # unbounded: every day with usage is whole
        (None, None, [D0 * 24, D0 * 24 + 5, D0 * 24 + 24], BucketPlan((D0, D0 + 1), (), ())),
        # a whole day plus one whole hour of the next
        (
            None,
            (D0 * 24 + 25) * H,
            [D0 * 24, D0 * 24 + 5, D0 * 24 + 24],
            BucketPlan((D0,), (D0 * 24 + 24,), ()),
        ),
        # since cuts hour 1 of the day: the day is not whole any more
        (
            (D0 * 24 + 1) * H + 10,
            None,
            [D0 * 24, D0 * 24 + 1, D0 * 24 + 2],
            BucketPlan((), (D0 * 24 + 2,), (D0 * 24 + 1,)),
        ),
        # until on an hour boundary excludes that hour entirely
        (None, (D0 * 24 + 2) * H, [D0 * 24 + 1, D0 * 24 + 2], BucketPlan((), (D0 * 24 + 1,), ())),
        # both ends inside one hour
        ((D0 * 24) * H + 5, (D0 * 24) * H + 9, [D0 * 24], BucketPlan((), (), (D0 * 24,))),
    ],
)
def test_bucket_plans_cover_the_range_with_whole_buckets_where_possible(
    since: float | None, until: float | None, hours: list[int], plan: BucketPlan
) -> None:
    assert plan_buckets(since, until, hours) == plan


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.02, "20ms"), (1, "1s"), (1.5, "1.5s"), (59.9994, "1m0s"), (360, "6m0s"), (3723, "1h2m3s")],
)
def test_durations_use_openais_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_hash_tags_escape_braces_so_names_never_share_a_tag() -> None:
    assert hash_tag("acme") == "{acme}"
    assert hash_tag("a}b") == "{a%7Db}" != hash_tag("a%7Db")
    assert KeySpace("ns").rate("k") == ("ns:rl:{k}:req", "ns:rl:{k}:tok")
    with pytest.raises(ValueError, match="namespace"):
        KeySpace("bad{ns}")


@pytest.mark.parametrize(
    ("period", "when", "previous"),
    [
        ("day", ts(2025, 3, 1), "d20250228"),
        ("month", ts(2025, 3, 1), "m202502"),
        ("month", ts(2025, 3, 31, 23), "m202502"),
        ("month", ts(2025, 1, 15), "m202412"),
    ],
)
def test_previous_periods(period: str, when: float, previous: str) -> None:
    assert previous_period_id(period, when) == previous  # type: ignore[arg-type]


def test_hour_of_counts_hours_since_the_epoch() -> None:
    assert hour_of(7199.9) == 1


def test_gcra_refused_step_stores_nothing_new() -> None:
    now = 1_000_000_000
    step = gcra_step(now, RateLimits(rpm=1), 0, (now + 60_000_000, 0))
    assert not step.decision.allowed
    assert step.tats[0] == now + 60_000_000
