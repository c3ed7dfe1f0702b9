"""The spool on its own: bounded appends, batches, commits, torn tails, resumption."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from gateway.metering.record import UsageRecord
from gateway.state.spool import Spool, replay_spool
from tests.state.fakes import make_record


def open_spool(path: Path, max_bytes: int = 1 << 20) -> Spool:
    spool = Spool(path, max_bytes=max_bytes, fsync_interval_s=0.0)
    spool.open()
    return spool


def test_batches_come_back_in_order_and_commits_truncate_at_the_end(tmp_path: Path) -> None:
    spool = open_spool(tmp_path / "u.spool")
    written = [make_record(f"r{i}") for i in range(5)]
    for r in written:
        assert spool.append(r)
    first = spool.read_batch(3)
    assert first.records == written[:3]
    spool.commit(first)
    assert spool.pending == 2
    rest = spool.read_batch(10)
    assert rest.records == written[3:]
    spool.commit(rest)
    assert spool.pending == 0 and (tmp_path / "u.spool").stat().st_size == 0
    spool.close()


def test_a_reopened_spool_resumes_after_the_last_commit(tmp_path: Path) -> None:
    path = tmp_path / "u.spool"
    spool = open_spool(path)
    for i in range(4):
        spool.append(make_record(f"r{i}"))
    spool.commit(spool.read_batch(1))
    spool.read_batch(2)  # read, never committed: a crash mid-replay
    spool.close()

    again = open_spool(path)
    assert again.pending == 3
    assert [r.request_id for r in again.read_batch(10).records] == ["r1", "r2", "r3"]
    again.close()


def test_a_full_spool_drops_and_counts(tmp_path: Path) -> None:
    spool = open_spool(tmp_path / "u.spool", max_bytes=4096)
    results = [spool.append(make_record(f"r{i}")) for i in range(20)]
    assert results[0] and not results[-1]
    assert spool.dropped == results.count(False) and spool.pending == results.count(True)
    spool.close()


def test_a_torn_tail_from_a_crash_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "u.spool"
    spool = open_spool(path)
    spool.append(make_record("r0"))
    spool.close()
    with open(path, "ab") as f:
        f.write(b'{"request_id": "r1", "ts": 1')  # the process died mid-write
    again = open_spool(path)
    again.append(make_record("r2"))
    batch = again.read_batch(10)
    assert [r.request_id for r in batch.records] == ["r0", "r2"]
    assert again.corrupt == 1 and batch.lines == 3
    again.close()


def test_a_second_process_cannot_share_a_spool(tmp_path: Path) -> None:
    spool = open_spool(tmp_path / "u.spool")
    with pytest.raises(RuntimeError, match="in use"):
        open_spool(tmp_path / "u.spool")
    spool.close()


async def test_replay_keeps_a_failed_batch_for_next_time(tmp_path: Path) -> None:
    spool = open_spool(tmp_path / "u.spool")
    for i in range(5):
        spool.append(make_record(f"r{i}"))
    seen: list[str] = []

    async def fail_on_r3(batch: Sequence[UsageRecord]) -> list[bool]:
        if any(r.request_id == "r3" for r in batch):
            raise OSError("gone")
        seen.extend(r.request_id for r in batch)
        return [True] * len(batch)

    with pytest.raises(OSError, match="gone"):
        await replay_spool(spool, fail_on_r3, batch_size=2)
    assert seen == ["r0", "r1"] and spool.pending == 3

    async def accept(batch: Sequence[UsageRecord]) -> list[bool]:
        seen.extend(r.request_id for r in batch)
        return [r.request_id != "r2" for r in batch]

    assert await replay_spool(spool, accept, batch_size=2) == 2
    assert seen == ["r0", "r1", "r2", "r3", "r4"] and spool.pending == 0
    spool.close()
