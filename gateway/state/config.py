"""The ``state`` config section and the factory that builds the configured Store.

The Redis URL may carry a password: it is shown masked in every repr and log line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.state.store import Clock, Store

DAY_S = 86400


def mask_url(url: str) -> str:
    """``redis://user:***@host:6379/0``: the password replaced, everything else kept."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


class StateConfig(BaseModel):
    """Where shared state lives. YAML::

    state:
      kind: redis                      # memory (default): one process, nothing to install
      redis_url: redis://:secret@redis:6379/0
      namespace: tokengate             # key prefix; several gateways may share one Redis
      replicas: 3                      # gateway replicas: local shares while Redis is down
      spool_path: /var/lib/tokengate/usage.spool   # one per replica, on a persistent disk
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["memory", "redis"] = "memory"
    redis_url: str = Field(default="redis://localhost:6379/0", repr=False)
    namespace: str = "tokengate"
    # Short and explicit: a slow Redis must turn into local decisions, not into slow requests.
    connect_timeout_s: float = Field(default=0.25, gt=0)
    socket_timeout_s: float = Field(default=0.5, gt=0)
    max_connections: int = Field(default=64, ge=2)
    replicas: int = Field(default=1, ge=1)
    lease_ttl_s: float = Field(default=10.0, gt=0)
    reservation_ttl_s: float = Field(default=900.0, gt=0)
    # Must outlive any outage plus replay, or a replayed record could count twice.
    settle_marker_ttl_s: float = Field(default=7 * DAY_S, gt=0)
    records_retention_s: float = Field(default=7 * DAY_S, gt=0)
    aggregates_retention_s: float = Field(default=400 * DAY_S, gt=0)
    stream_maxlen: int = Field(default=100_000, ge=0)  # per tenant; 0 = no usage stream
    spool_path: Path = Path("tokengate-usage.spool")
    spool_max_bytes: int = Field(default=256 * 1024 * 1024, ge=4096)
    spool_fsync_interval_s: float = Field(default=1.0, ge=0)
    replay_batch: int = Field(default=200, ge=1)
    recovery_backoff_min_s: float = Field(default=0.1, gt=0)
    recovery_backoff_max_s: float = Field(default=5.0, gt=0)
    memory_max_records: int = Field(default=100_000, ge=0)

    @field_validator("namespace")
    @classmethod
    def _plain_namespace(cls, value: str) -> str:
        if not value or any(c in value for c in "{} \n"):
            raise ValueError("namespace must be non-empty, without braces or whitespace")
        return value

    @property
    def masked_redis_url(self) -> str:
        return mask_url(self.redis_url)

    def __repr_args__(self) -> Any:
        yield from super().__repr_args__()
        yield "redis_url", self.masked_redis_url


def store_from_config(config: StateConfig, *, clock: Clock | None = None) -> Store:
    """Build (not start) the configured Store; the app calls ``start()`` and ``close()``.

    ``clock`` is for tests: with it, even the Redis scripts take time from it, not from TIME.
    """
    if config.kind == "memory":
        from gateway.state.memory import MemoryStore

        kwargs: dict[str, Any] = {} if clock is None else {"clock": clock}
        return MemoryStore(
            max_records=config.memory_max_records,
            settle_marker_ttl_s=config.settle_marker_ttl_s,
            reservation_ttl_s=config.reservation_ttl_s,
            **kwargs,
        )
    from gateway.state.redis_store import RedisStore

    return RedisStore(config, clock=clock)
