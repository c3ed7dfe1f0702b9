"""Running the gateway: the aiohttp runner with the settings a proxy needs, signals, demo sims.

``handler_cancellation`` makes aiohttp cancel a handler when its client
disconnects (otherwise a departed client's generation runs on), and the
keep-alive timer doubles as the deadline for receiving request headers:
aiohttp has none of its own, so a slowloris client would hold a socket forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from aiohttp import web

from gateway.app import create_app
from gateway.config.schema import GatewayConfig
from gateway.runtime import Gateway

log = logging.getLogger("tokengate")


def make_runner(app: web.Application, config: GatewayConfig) -> web.AppRunner:
    """``lingering_time``: after an early answer (408, 413, 401) aiohttp reads and drops the
    unread body so the client sees the answer, not a reset; a stalled body must not hold
    the socket longer than the body deadline a second time."""
    return web.AppRunner(
        app,
        handler_cancellation=True,
        keepalive_timeout=config.server.header_timeout_s,
        lingering_time=min(config.server.body_timeout_s, 10.0),
        access_log=None,  # the gateway writes its own JSON access log, without secrets
        shutdown_timeout=config.server.shutdown_grace_s,
    )


@dataclass
class RunningGateway:
    """A gateway listening on a port (tests and the demo use this in-process)."""

    app: web.Application
    runner: web.AppRunner
    port: int
    host: str
    extra_cleanup: list[Callable[[], object]] = field(default_factory=list)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def gateway(self) -> Gateway:
        from gateway.api.keys import GATEWAY

        return self.app[GATEWAY]

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_gateway(
    config: GatewayConfig, host: str | None = None, port: int | None = None
) -> RunningGateway:
    app = create_app(config)
    runner = make_runner(app, config)
    await runner.setup()
    host = host or config.server.host
    site = web.TCPSite(
        runner, host, config.server.port if port is None else port, reuse_address=True
    )
    await site.start()
    server = site._server
    assert server is not None and server.sockets
    bound = server.sockets[0].getsockname()[1]
    return RunningGateway(app, runner, bound, host)


@contextlib.asynccontextmanager
async def running_gateway(
    config: GatewayConfig, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningGateway]:
    gw = await start_gateway(config, host, port)
    try:
        yield gw
    finally:
        await gw.stop()


async def serve_forever(
    running: RunningGateway, reload: Callable[[], object] | None = None
) -> None:
    """Run until SIGINT/SIGTERM; SIGHUP calls ``reload``."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if reload is not None:
        loop.add_signal_handler(signal.SIGHUP, reload)
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await running.stop()
