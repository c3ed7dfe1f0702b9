"""Live counters of a run, and a rich progress bar that reads them a few times a second.

The runner only bumps integers and appends to a bounded deque; all formatting happens in
the display's own refresh task, off the request path.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


@dataclass(slots=True)
class LiveStats:
    label: str = "loadtest"
    planned: int | None = None  # requests in an open-loop schedule
    deadline_s: float | None = None  # closed loop: stop starting requests after this
    t0: float | None = None  # perf_counter at the run's start
    sent: int = 0
    done: int = 0
    errors: int = 0
    recent_ttft_ms: deque[float] = field(default_factory=lambda: deque(maxlen=1024))

    @property
    def in_flight(self) -> int:
        return self.sent - self.done

    def reset(self, label: str) -> None:
        self.label, self.planned, self.deadline_s, self.t0 = label, None, None, None
        self.sent = self.done = self.errors = 0
        self.recent_ttft_ms.clear()


def progress_text(live: LiveStats) -> str:
    ttft = f"{statistics.median(live.recent_ttft_ms):.0f} ms" if live.recent_ttft_ms else "-"
    return (
        f"sent {live.sent}  done {live.done}  errors {live.errors}  "
        f"in flight {live.in_flight}  p50 TTFT {ttft}"
    )


@contextlib.asynccontextmanager
async def show_progress(
    live: LiveStats, console: Console | None = None, interval_s: float = 0.25
) -> AsyncIterator[None]:
    """Draw a progress bar for ``live`` while the body runs (the runner fills ``live``)."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=24),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[stats]}"),
        console=console,
        auto_refresh=False,  # refreshed from the loop below, not from a thread
        transient=False,
    )
    task = progress.add_task(live.label, total=1.0, stats="")

    async def refresh() -> None:
        while True:
            progress.update(
                task, description=live.label, completed=_fraction(live), stats=progress_text(live)
            )
            progress.refresh()
            await asyncio.sleep(interval_s)  # a redraw cadence, not synchronisation

    with progress:
        ticker = asyncio.create_task(refresh())
        try:
            yield
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            progress.update(task, completed=_fraction(live), stats=progress_text(live))
            progress.refresh()


def _fraction(live: LiveStats) -> float:
    if live.planned:
        return min(1.0, live.done / live.planned)
    if live.deadline_s and live.t0 is not None:
        return min(1.0, (time.perf_counter() - live.t0) / live.deadline_s)
    return 0.0
