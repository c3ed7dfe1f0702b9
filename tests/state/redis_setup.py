"""Redis stores for tests: a private namespace each, short timeouts, fast recovery."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any
from uuid import uuid4

from redis.asyncio import Redis
from redis.exceptions import ConnectionError

from gateway.state.config import StateConfig
from tests.fixtures.redis_server import RedisServer


def redis_config(url: str, spool_dir: Path, **overrides: Any) -> StateConfig:
    namespace = f"t{uuid4().hex[:12]}"
    values: dict[str, Any] = {
        "kind": "redis",
        "redis_url": url,
        "namespace": namespace,
        "spool_path": spool_dir / f"{namespace}.spool",
        # Generous: two shared cores under a parallel test run must not look like an outage.
        "connect_timeout_s": 2.0,
        "socket_timeout_s": 2.0,
        "lease_ttl_s": 30.0,  # heartbeats stay out of the way of tests that move a fake clock
        "recovery_backoff_min_s": 0.02,
        "recovery_backoff_max_s": 0.2,
        "spool_fsync_interval_s": 0.0,
    }
    values.update(overrides)
    return StateConfig(**values)


async def stop_redis_saving(server: RedisServer) -> None:
    """SHUTDOWN SAVE: no write can land between the snapshot and the exit, so the restarted
    server holds exactly what was acknowledged (the fixture runs Redis without persistence)."""
    client = Redis.from_url(server.url)
    with contextlib.suppress(ConnectionError):
        await client.shutdown(save=True)
    await client.aclose()
    server.stop()  # reap the exited process
