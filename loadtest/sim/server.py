"""A simulated GPU inference server in-process: start, stop, crash it, bring it back.

``SimServer`` wires a preset's engine to its real-time step loop and the HTTP API, on a port
of its own. Tests, the demo and the load tester use it directly; ``tokengate sim`` wraps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import struct
from collections.abc import Callable, Sequence
from types import TracebackType

from aiohttp import web

from loadtest.sim.api import ApiSettings, Faults, SimApi
from loadtest.sim.engine import Engine
from loadtest.sim.metrics import engine_registry
from loadtest.sim.presets import Preset, get_preset
from loadtest.sim.protocol import Limits
from loadtest.sim.stepper import RealTimeStepper

DEFAULT_MAX_TOKENS = 256  # answer length of a request that names no max_tokens
LISTEN_BACKLOG = 4096  # the kernel caps it at net.core.somaxconn
MAX_BODY_BYTES = 64 * 1024 * 1024  # a 128K-token prompt is ~0.5 MB of text; leave room


class SimServer:
    """An OpenAI-compatible server in front of a simulated continuous-batching engine.

    ``time_scale`` divides every simulated duration on the wall clock (10 → ten times faster);
    ``math.inf`` never sleeps. ``preset="zero-delay"`` makes the steps themselves free.
    """

    def __init__(
        self,
        preset: str | Preset = "h100-llama3.1-8b",
        model: str | Sequence[str] | None = None,
        *,
        time_scale: float = 1.0,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        max_num_seqs: int | None = None,
        max_num_batched_tokens: int | None = None,
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> None:
        p = get_preset(preset) if isinstance(preset, str) else preset
        overrides = {
            k: v
            for k, v in (
                ("max_num_seqs", max_num_seqs),
                ("max_num_batched_tokens", max_num_batched_tokens),
            )
            if v is not None
        }
        self.preset = p.with_engine(**overrides) if overrides else p
        names = (model,) if isinstance(model, str) else tuple(model or (p.default_model,))
        self.models: tuple[str, ...] = names
        self.host = host
        self.port = port
        self.engine = Engine(self.preset.engine, self.preset.step_model, seed=seed)
        self.stepper = RealTimeStepper(self.engine, time_scale)
        self.faults = Faults()
        limits = Limits(self.preset.engine.max_model_len, default_max_tokens)
        settings = ApiSettings(names, limits, self.preset.frontend_s, seed, api_key)
        self.api = SimApi(
            settings,
            self.stepper,
            engine_registry(lambda: self.engine, lambda: dict(self.api.finish_reasons), names[0]),
            self.faults,
        )
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Base URL without ``/v1``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def time_scale(self) -> float:
        return self.stepper.time_scale

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        self.api.add_routes(app)
        # handler_cancellation: a departed client cancels its handler, which aborts the
        # sequence; aiohttp leaves handlers running by default.
        runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        # A load test opens thousands of connections at once; aiohttp's backlog of 128 resets them.
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True, backlog=LISTEN_BACKLOG)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = site.port
        self._runner = runner
        self.stepper.start()

    async def stop(self) -> None:
        """Shut down: in-flight requests end with an error (no draining), the port is freed."""
        await self.stepper.stop("the simulated server is shutting down")
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def kill(self) -> None:
        """Crash: stop listening and reset every open connection at once; the batch is lost."""
        runner, self._runner = self._runner, None
        if runner is not None:
            for site in list(runner.sites):
                await site.stop()  # closes the listening socket only
            if runner.server is not None:
                for handler in runner.server.connections:
                    transport = handler.transport
                    if transport is not None:
                        _reset(transport)
        await self.stepper.stop("the simulated server was killed")
        if runner is not None:
            await runner.cleanup()

    async def restart(self) -> None:
        """Listen again on the same port with an empty engine (a backend that came back)."""
        await self.start()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds, re-checked on every engine change (no polling)."""
        await self.stepper.wait_for(predicate)

    def fail_next(self, n: int, status: int = 500) -> None:
        """The next ``n`` completion requests get HTTP ``status`` in vLLM's error shape."""
        self.faults.pending = n
        self.faults.status = status

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        scale = "inf" if math.isinf(self.time_scale) else f"{self.time_scale:g}"
        return f"SimServer({self.preset.name!r}, url={self.url!r}, time_scale={scale})"


def _reset(transport: asyncio.Transport) -> None:
    """Close with RST (SO_LINGER 0), as the kernel does for a process that died mid-stream."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
