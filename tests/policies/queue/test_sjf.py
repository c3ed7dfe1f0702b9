"""Shortest job first with aging: short jobs first, yet a long job's wait is bounded."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from policies.queue.sjf import ShortestJobQueue
from tests.policies.fakes import PROPERTIES, ticket


def test_shorter_expected_job_first_among_same_arrivals() -> None:
    q = ShortestJobQueue(aging_tokens_per_s=10.0)
    q.push(ticket(1, prompt_tokens=900, max_tokens=100))  # 1000
    q.push(ticket(2, prompt_tokens=10, max_tokens=500))  # 510: max_tokens counts too
    q.push(ticket(3, prompt_tokens=300, max_tokens=10))  # 310
    q.push(ticket(4, prompt_tokens=300, max_tokens=10))  # 310, later seq
    assert [q.pop().seq for _ in range(4)] == [3, 4, 2, 1]  # type: ignore[union-attr]


def test_waiting_makes_a_job_shorter() -> None:
    # 100 tokens/s of aging: a 1000-token job that waited 10 s ranks like a fresh 0-token job.
    q = ShortestJobQueue(aging_tokens_per_s=100.0)
    q.push(ticket(1, prompt_tokens=500, max_tokens=500, arrival=0.0))
    q.push(ticket(2, prompt_tokens=5, max_tokens=5, arrival=11.0))
    q.push(ticket(3, prompt_tokens=5, max_tokens=5, arrival=9.0))
    assert [q.pop().seq for _ in range(3)] == [3, 1, 2]  # type: ignore[union-attr]


@PROPERTIES
@given(
    long_size=st.integers(1_000, 8_000),
    short_size=st.integers(2, 200),
    alpha=st.sampled_from([50.0, 200.0, 1000.0]),
    gap_s=st.sampled_from([0.05, 0.2, 1.0]),
    backlog=st.integers(0, 20),
)
def test_a_long_job_waits_a_bounded_time_behind_a_stream_of_short_ones(
    long_size: int, short_size: int, alpha: float, gap_s: float, backlog: int
) -> None:
    """One slot serves a job per gap while a short job arrives every gap: the queue never empties.

    Without aging the long job would wait forever. With it, no job arriving more
    than (L - s)/alpha seconds after the long one ranks ahead of it, so it is
    served after at most the backlog plus the short jobs of that span.
    """
    q = ShortestJobQueue(aging_tokens_per_s=alpha)
    long_job = ticket(0, prompt_tokens=long_size, max_tokens=0, arrival=0.0)
    q.push(long_job)
    seq = 1
    for _ in range(backlog):
        q.push(ticket(seq, prompt_tokens=short_size, max_tokens=0, arrival=0.0))
        seq += 1
    bound = backlog + math.ceil((long_size - short_size) / (alpha * gap_s)) + 1
    for served in range(1, bound + 1):
        now = served * gap_s
        q.push(ticket(seq, prompt_tokens=short_size, max_tokens=0, arrival=now))
        seq += 1
        if q.pop() is long_job:
            assert served > backlog  # the short jobs queued with it did go first
            return
    raise AssertionError(f"the long job was not served within {bound} slots")
