"""The engine against the wall clock: one task runs every step, time-scaled, and hands out tokens.

At the end of each step the loop pushes one token into the channel of every sequence that
produced one; request handlers wait on their channel, so nothing polls per token. No aiohttp.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable

from loadtest.sim.engine import Engine, StepResult

log = logging.getLogger("tokengate.sim")

# Falling further behind the wall clock than this (CPU starvation) re-anchors the simulated
# clock instead of running a burst of catch-up steps.
MAX_LAG_S = 0.1


class EngineStopped(Exception):
    """The engine went away (stop or kill) before the sequence finished."""


class TokenChannel:
    """Tokens of one sequence, from the step loop to its handler.

    A streaming handler wakes on every token; a non-streaming one only when the sequence ends.
    """

    __slots__ = ("_error", "_waiter", "_wake_each", "finished", "ready")

    def __init__(self, wake_each: bool) -> None:
        self.ready = 0
        self.finished = False
        self._wake_each = wake_each
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None

    def push(self, finished: bool) -> None:
        self.ready += 1
        self.finished = finished
        if self._waiter is not None and (finished or self._wake_each):
            self._wake()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._wake()

    async def take(self) -> tuple[int, bool]:
        """Wait for tokens (or the end); return how many arrived since last time, and if done."""
        while self._error is None and not self.finished and not (self._wake_each and self.ready):
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self._error is not None:
            raise self._error
        n, self.ready = self.ready, 0
        return n, self.finished

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class RealTimeStepper:
    """Runs ``engine`` with each step lasting ``duration / time_scale`` wall seconds.

    Steps follow each other back to back on a simulated timeline anchored to the wall clock, so
    coarse timers delay a step's tokens but never stretch the timeline: the next sleep is
    shorter. ``time_scale=math.inf`` never sleeps (the timeline still advances).
    """

    def __init__(self, engine: Engine, time_scale: float = 1.0) -> None:
        if not time_scale > 0:
            raise ValueError("time_scale must be positive")
        self.engine = engine
        self.time_scale = time_scale
        self.sim_now = 0.0  # simulated seconds since start
        self._channels: dict[str, TokenChannel] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._wall0 = 0.0
        self._sim0 = 0.0
        self._watchers: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            return
        self._wall0 = asyncio.get_running_loop().time()
        self._sim0 = self.sim_now
        self._task = asyncio.create_task(self._run(), name="sim-step-loop")

    async def stop(self, reason: str = "the simulated engine stopped") -> None:
        """Stop stepping; every waiting handler gets ``EngineStopped``; the batch is dropped."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        channels, self._channels = self._channels, {}
        for ch in channels.values():
            ch.fail(EngineStopped(reason))
        self.engine.abort_all()
        self._notify()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds; re-checked whenever the engine's state changes.

        For tests and tools that must see e.g. ``num_running`` fall, without sleeping.
        """
        if predicate():
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (predicate, fut)
        self._watchers.append(entry)
        try:
            await fut
        finally:
            with contextlib.suppress(ValueError):
                self._watchers.remove(entry)

    def submit(
        self, seq_id: str, prompt_tokens: int, max_tokens: int, stream: bool
    ) -> TokenChannel:
        """Queue a sequence; ValueError if the engine cannot take it, EngineStopped if it is off."""
        if not self.running:
            raise EngineStopped("the simulated engine is not running")
        self.engine.add(seq_id, prompt_tokens, max_tokens, self._now())
        ch = TokenChannel(wake_each=stream)
        self._channels[seq_id] = ch
        self._wake.set()
        self._notify()
        return ch

    def cancel(self, seq_id: str) -> bool:
        """The client left: stop generating for it now. False if it had already finished."""
        self._channels.pop(seq_id, None)
        aborted = self.engine.abort(seq_id)
        self._notify()
        return aborted

    def _now(self) -> float:
        if math.isinf(self.time_scale):
            return self.sim_now
        wall = asyncio.get_running_loop().time()
        return max(self.sim_now, self._sim0 + (wall - self._wall0) * self.time_scale)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        engine = self.engine
        realtime = not math.isinf(self.time_scale)
        try:
            while True:
                if not engine.has_work:
                    self._wake.clear()
                    await self._wake.wait()
                    self.sim_now = self._now()  # idle time passes on the simulated clock too
                    continue
                result = engine.step(self.sim_now)
                if result is None:
                    continue
                self._notify()  # the batch changed when the step was planned
                delay = 0.0
                if realtime:
                    delay = self._wall0 + (result.end - self._sim0) / self.time_scale - loop.time()
                    if delay < -MAX_LAG_S:
                        self._wall0, self._sim0, delay = loop.time(), result.end, 0.0
                await asyncio.sleep(max(delay, 0.0))  # sleep(0) still lets handlers run
                self.sim_now = result.end
                self._deliver(result)
                self._notify()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("simulated engine step loop failed")
            for ch in self._channels.values():
                ch.fail(EngineStopped(f"simulated engine failed: {e}"))
            self._channels.clear()
            raise

    def _notify(self) -> None:
        if not self._watchers:
            return
        for predicate, fut in list(self._watchers):
            if not fut.done() and predicate():
                fut.set_result(None)

    def _deliver(self, result: StepResult) -> None:
        channels = self._channels
        for seq in result.emitted:
            ch = channels.get(seq.id)
            if ch is None:
                continue  # aborted while the step ran
            done = seq.generated >= seq.max_tokens
            ch.push(done)
            if done:
                del channels[seq.id]
