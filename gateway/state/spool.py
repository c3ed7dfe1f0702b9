"""A bounded local JSONL file of usage records that could not reach Redis, and its replay.

Durability: each record is written and flushed to the OS at once (a process crash loses
nothing); ``fsync`` runs at most every ``fsync_interval_s`` on append and on every ``sync()``
tick, so a machine crash loses at most that much. Progress is a byte offset in a sidecar file,
written atomically after each replayed batch: an interrupted replay resumes from the last
committed batch, and the records of the batch it was in go through the idempotent settle
script again, where they count once. Full replay truncates the file.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from gateway.metering.record import UsageRecord
from gateway.state.usage import record_json

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SpoolBatch:
    records: list[UsageRecord]
    lines: int  # lines consumed, including corrupt ones that were skipped
    end: int  # byte offset just after the batch


class Spool:
    """One replica's spool: an exclusive lock refuses a second process on the same file."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int,
        fsync_interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._offset_path = path.with_name(path.name + ".offset")
        self._max_bytes = max_bytes
        self._fsync_interval_s = fsync_interval_s
        self._clock = clock
        self._file: BinaryIO | None = None
        self._size = 0
        self._offset = 0
        self._pending = 0
        self._dirty = False
        self._last_sync = 0.0
        self.dropped = 0
        self.corrupt = 0

    @property
    def pending(self) -> int:
        """Records written and not yet replayed."""
        return self._pending

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = open(self.path, "ab")  # noqa: SIM115 - held open until close()
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            file.close()
            raise RuntimeError(f"spool {self.path} is in use by another process") from None
        self._file = file
        self._size = os.fstat(file.fileno()).st_size
        self._offset = self._read_offset()
        if self._offset > self._size:  # truncated before the offset was reset
            self._offset = 0
        if self._size and not self._ends_with_newline():
            file.write(b"\n")  # a torn tail from a crash becomes one corrupt, skipped line
            file.flush()
            self._size += 1
        self._pending = self._count_lines(self._offset)

    def append(self, record: UsageRecord) -> bool:
        """False (and counted in ``dropped``) when the spool is full or not open."""
        line = record_json(record).encode() + b"\n"
        if self._file is None or self._size + len(line) > self._max_bytes:
            self.dropped += 1
            return False
        self._file.write(line)
        self._file.flush()
        self._size += len(line)
        self._pending += 1
        self._dirty = True
        if self._clock() - self._last_sync >= self._fsync_interval_s:
            self.sync()
        return True

    def sync(self) -> None:
        if self._file is not None and self._dirty:
            os.fsync(self._file.fileno())
            self._dirty = False
            self._last_sync = self._clock()

    def read_batch(self, max_records: int) -> SpoolBatch:
        records: list[UsageRecord] = []
        lines = 0
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            end = self._offset
            while len(records) < max_records:
                line = f.readline()
                if not line.endswith(b"\n"):
                    break  # EOF (every append writes a whole line)
                end += len(line)
                lines += 1
                try:
                    records.append(UsageRecord.from_json(json.loads(line)))
                except (ValueError, TypeError) as exc:
                    self.corrupt += 1
                    log.error("skipping corrupt spool line at byte %d: %s", end - len(line), exc)
        return SpoolBatch(records, lines, end)

    def commit(self, batch: SpoolBatch) -> None:
        """Record that a batch reached Redis; truncate once everything has."""
        self._offset = batch.end
        self._pending -= batch.lines
        if self._offset >= self._size and self._file is not None:
            os.ftruncate(self._file.fileno(), 0)
            self._size = self._offset = self._pending = 0
        self._write_offset()

    def close(self) -> None:
        if self._file is not None:
            self.sync()
            self._file.close()
            self._file = None

    def _read_offset(self) -> int:
        try:
            return int(self._offset_path.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _write_offset(self) -> None:
        tmp = self._offset_path.with_name(self._offset_path.name + ".tmp")
        with open(tmp, "w") as f:
            f.write(str(self._offset))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._offset_path)

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def _count_lines(self, offset: int) -> int:
        with open(self.path, "rb") as f:
            f.seek(offset)
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


async def replay_spool(
    spool: Spool,
    settle_many: Callable[[Sequence[UsageRecord]], Awaitable[Sequence[bool]]],
    batch_size: int,
) -> int:
    """Push every pending record through ``settle_many`` in order; returns how many applied.

    An exception leaves the current batch uncommitted, to be replayed (idempotently) next time.
    """
    applied = 0
    while True:
        batch = spool.read_batch(batch_size)
        if batch.lines == 0:
            return applied
        if batch.records:
            applied += sum(await settle_many(batch.records))
        spool.commit(batch)
