"""The pooled upstream client: one aiohttp session, keep-alive, timeouts fit for long generations.

aiohttp's default 300 s total timeout would cut long generations, so there is no
total cap: a connect timeout, and a cap on the silence between chunks
(streaming) or on the whole wait (non-streaming, off by default).
"""

from __future__ import annotations

import asyncio

import aiohttp

from gateway.upstream.backend import BackendState


class UpstreamUnavailable(Exception):
    """The backend gave no response (connect error, lost connection or timeout before headers).

    ``connect_failed`` only when no connection could be made at all: that, unlike a
    connection lost mid-request (a stale keep-alive, one crashed request), says the
    backend is down.
    """

    def __init__(
        self, backend: str, reason: str, *, timeout: bool = False, connect_failed: bool = False
    ) -> None:
        super().__init__(f"backend {backend}: {reason}")
        self.backend = backend
        self.reason = reason
        self.timeout = timeout
        self.connect_failed = connect_failed


class UpstreamPool:
    """Owns the ClientSession; the app creates and closes it (never a module global)."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=0,  # backend capacity, not the pool, bounds concurrency
            limit_per_host=0,
            # Below uvicorn's 5 s (vLLM, SGLang): reusing a connection the engine is closing
            # fails the request with "server disconnected" before it was even sent.
            keepalive_timeout=4,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("UpstreamPool used before start()")
        return self._session

    def headers(self, b: BackendState, request_id: str) -> dict[str, str]:
        """Headers for the engine: the backend's own key, never the client's."""
        h = {"Content-Type": "application/json", "X-Request-Id": request_id}
        if b.config.api_key:
            h["Authorization"] = f"Bearer {b.config.api_key}"
        return h

    async def post(
        self, b: BackendState, path: str, body: bytes, request_id: str, *, stream: bool
    ) -> aiohttp.ClientResponse:
        """Send a request and return once the engine's response headers arrive."""
        t = b.config.timeouts
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None,
            sock_connect=t.connect_s,
            sock_read=t.between_chunks_s if stream else t.response_s,
        )
        try:
            return await self.session.post(
                b.config.url + path, data=body, headers=self.headers(b, request_id), timeout=timeout
            )
        except (aiohttp.ClientConnectionError, aiohttp.ClientOSError, OSError) as exc:
            if isinstance(exc, aiohttp.ConnectionTimeoutError):
                raise UpstreamUnavailable(
                    b.name, "connect timed out", timeout=True, connect_failed=True
                ) from None
            if isinstance(exc, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
                raise UpstreamUnavailable(b.name, "timed out", timeout=True) from None
            connect_failed = isinstance(exc, aiohttp.ClientConnectorError)
            raise UpstreamUnavailable(b.name, _reason(exc), connect_failed=connect_failed) from None
        except TimeoutError:
            raise UpstreamUnavailable(b.name, "timed out", timeout=True) from None

    async def get(self, b: BackendState, path: str, timeout_s: float) -> tuple[int, bytes]:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        headers = {"Authorization": f"Bearer {b.config.api_key}"} if b.config.api_key else None
        async with self.session.get(b.config.url + path, timeout=timeout, headers=headers) as resp:
            return resp.status, await resp.read()


def _reason(exc: BaseException) -> str:
    """A reason without URLs or hosts (clients must not learn the internal topology)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return (
            "connection refused"
            if isinstance(exc.os_error, ConnectionRefusedError)
            else "connect failed"
        )
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server disconnected"
    return type(exc).__name__
