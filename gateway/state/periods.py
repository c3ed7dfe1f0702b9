"""UTC calendar periods for budgets and the hour/day buckets usage totals are kept in (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

from gateway.state.store import Period

HOUR_S = 3600
DAY_S = 86400


@lru_cache(maxsize=64)  # every call on the hot path asks about today: compute once per day
def _day(day: int) -> tuple[str, str, float, float]:
    """(day id, month id, day end, month end) of a UTC day index."""
    when = datetime.fromtimestamp(day * DAY_S, UTC)
    year, month = (when.year + 1, 1) if when.month == 12 else (when.year, when.month + 1)
    month_end = datetime(year, month, 1, tzinfo=UTC).timestamp()
    return f"d{when:%Y%m%d}", f"m{when:%Y%m}", float((day + 1) * DAY_S), month_end


def period_id(period: Period, ts: float) -> str:
    """``d20250131`` or ``m202501``: the budget period that contains ``ts``."""
    day_id, month_id, _, _ = _day(int(ts // DAY_S))
    return day_id if period == "day" else month_id


def period_end(period: Period, ts: float) -> float:
    """Epoch seconds at which the period containing ``ts`` ends (next UTC midnight / month)."""
    _, _, day_end, month_end = _day(int(ts // DAY_S))
    return day_end if period == "day" else month_end


def previous_period_id(period: Period, ts: float) -> str:
    """The id of the period before the one containing ``ts``."""
    if period == "day":
        return period_id("day", ts - DAY_S)
    last_of_previous = datetime.fromtimestamp(ts, UTC).replace(day=1) - timedelta(days=1)
    return f"m{last_of_previous:%Y%m}"


def hour_of(ts: float) -> int:
    """Index of the UTC hour containing ``ts`` (hours since the epoch)."""
    return int(ts // HOUR_S)
