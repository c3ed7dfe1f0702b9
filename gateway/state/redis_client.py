"""The Redis client the store uses: one attempt per command, short explicit timeouts.

redis-py 8 retries every command by default: ``Retry(ExponentialWithJitterBackoff(base=10 ms,
cap=1 s), retries=10)`` on ConnectionError and TimeoutError (``redis/_defaults.py``; since 6.0
TimeoutError is retried without ``retry_on_timeout``). A write whose reply timed out may already
have run, so a retried INCRBY or XADD can land twice, and a dead Redis would stall each call for
seconds. Here ``Retry(NoBackoff(), 0)``: every script is idempotent or an admission decision, and
a failure turns the store degraded instead (local decisions, spooled usage).
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.state.config import StateConfig


def connect_redis(config: StateConfig) -> Redis:
    """A client over a bounded pool; connections open lazily, on first use."""
    pool = BlockingConnectionPool.from_url(
        config.redis_url,
        max_connections=config.max_connections,
        # Waiting this long for a free pooled connection means Redis is too slow: degrade.
        timeout=config.socket_timeout_s,
        socket_connect_timeout=config.connect_timeout_s,
        socket_timeout=config.socket_timeout_s,
        retry=Retry(NoBackoff(), 0),
    )
    return Redis.from_pool(pool)
