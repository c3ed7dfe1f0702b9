"""Continuous: everything held is released at once, no timer."""

from __future__ import annotations

import pytest

from policies.batch.continuous import ContinuousBatcher
from policies.protocols import QueueView, Release
from tests.policies.fakes import ticket


@pytest.mark.parametrize("held", [0, 1, 7, 500])
@pytest.mark.parametrize("free_slots", [0, 3, 1000])
def test_releases_everything_now(held: int, free_slots: int) -> None:
    view = QueueView(
        [ticket(i) for i in range(held)], inflight=5, inflight_tokens=9_999, backends=2
    )
    assert ContinuousBatcher().plan(view, free_slots, now=12.0) == Release(held, None)
