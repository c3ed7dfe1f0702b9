"""The Redis Store: replicas share limits, budgets, slots and usage; each decision is one script.

Commands are never retried (``redis_client.py``). On a transient error the store turns degraded
and decides locally (``fallback.py``); usage goes to the spool and is replayed through the
idempotent settle script once a backoff probe finds Redis again. Over ~400 lines because the
degraded-mode switch in every operation reads best next to the operation itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any
from uuid import uuid4

from redis.asyncio import Redis

from gateway.metering.record import UsageRecord
from gateway.state.config import StateConfig
from gateway.state.fallback import LocalFallback
from gateway.state.gcra import WINDOW_US, rate_decision
from gateway.state.health import TRANSIENT_ERRORS, Connectivity, backoff_delays, describe
from gateway.state.keys import KeySpace
from gateway.state.memory import budget_decision
from gateway.state.periods import period_id
from gateway.state.redis_client import connect_redis
from gateway.state.redis_usage import RedisUsage
from gateway.state.report import build_report
from gateway.state.scripts import Scripts
from gateway.state.slot_events import SlotEvents
from gateway.state.spool import Spool, replay_spool
from gateway.state.store import (
    Budget,
    BudgetDecision,
    Clock,
    Period,
    RateDecision,
    RateLimits,
    SlotGrant,
    SlotListener,
    StoreStatus,
    StoreUnavailableError,
    check_amount,
)
from gateway.state.usage import UsageFilter, UsageReport

log = logging.getLogger(__name__)
US = 1_000_000


class RedisStore:
    """Shared state in Redis with per-replica fallback; see the module docstring.

    ``clock`` is for tests only: scripts then take "now" from it instead of Redis TIME, so one
    fake clock drives both stores through the same contract suite.
    """

    def __init__(self, config: StateConfig, *, clock: Clock | None = None) -> None:
        self._config = config
        self._script_clock = clock  # None: scripts read Redis TIME, so replicas agree
        self._clock: Clock = clock or time.time
        self._keys = KeySpace(config.namespace)
        self._conn = Connectivity(self._clock)
        self._spool = Spool(
            config.spool_path,
            max_bytes=config.spool_max_bytes,
            fsync_interval_s=config.spool_fsync_interval_s,
        )
        self._events = SlotEvents(uuid4().hex, self._keys.slot_channel())
        self._lease_ttl_us = int(config.lease_ttl_s * US)
        self._client: Redis | None = None
        self._scripts: Scripts | None = None
        self._usage: RedisUsage | None = None
        self._fallback: LocalFallback | None = None
        self._held: dict[str, dict[str, bool]] = {}  # backend -> lease_id -> general
        self._spent_seen: dict[tuple[str, Period], tuple[str, int]] = {}
        self._known_tenants: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._recovery: asyncio.Task[None] | None = None
        self._closing = False

    # lifecycle
    async def start(self) -> None:
        cfg = self._config
        self._spool.open()
        self._client = client = connect_redis(cfg)
        self._scripts = Scripts(client)
        self._usage = RedisUsage(
            client,
            self._keys,
            marker_ttl_s=cfg.settle_marker_ttl_s,
            records_retention_s=cfg.records_retention_s,
            aggregates_retention_s=cfg.aggregates_retention_s,
            stream_maxlen=cfg.stream_maxlen,
        )
        try:
            await self._probe()
            self._conn.mark_up()
            log.info("state: Redis at %s, namespace %s", cfg.masked_redis_url, cfg.namespace)
        except TRANSIENT_ERRORS as exc:
            self._degrade(exc)  # serve on local limits; the recovery task keeps probing
        if self._spool.pending:
            self._ensure_recovery()
        listen = self._events.listen(client, self._conn, self._degrade, cfg.recovery_backoff_max_s)
        self._tasks = [asyncio.create_task(self._heartbeat()), asyncio.create_task(listen)]

    async def close(self) -> None:
        self._closing = True
        tasks = [*self._tasks, *([self._recovery] if self._recovery else [])]
        for task in tasks:
            task.cancel()
        await self._events.close()
        if tasks:
            # Bounded: a client library swallowing a cancellation must not hang shutdown.
            done, _ = await asyncio.wait(tasks, timeout=self._config.socket_timeout_s * 2)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.debug("state: background task ended with %r", task.exception())
        if self._conn.healthy and self._held:
            with contextlib.suppress(*TRANSIENT_ERRORS):
                for backend, leases in list(self._held.items()):
                    for lease_id in list(leases):
                        await self._release_remote(backend, lease_id)
        self._held.clear()
        self._spool.close()
        if self._client is not None:
            await self._client.aclose()

    # admission
    async def check_rate(self, key_id: str, limits: RateLimits, tokens: int) -> RateDecision:
        check_amount("tokens", tokens)
        if limits.rpm is None and limits.tpm is None:
            return RateDecision(allowed=True, retry_after_s=0.0)
        if self._conn.healthy:
            try:
                reply = await self._s().rate_limit(
                    keys=list(self._keys.rate(key_id)),
                    args=[self._now_arg(), limits.rpm or 0, limits.tpm or 0, tokens, WINDOW_US],
                )
                allowed, too_large, retry, *rest = (int(x) for x in reply)
                figures = [None if v < 0 else v for v in rest]
                return rate_decision(
                    limits,
                    allowed=bool(allowed),
                    too_large=bool(too_large),
                    retry_us=retry,
                    remaining=figures[0::2],
                    reset_us=figures[1::2],
                )
            except TRANSIENT_ERRORS as exc:
                self._degrade(exc)
        return await self._local().check_rate(key_id, limits, tokens)

    async def reserve_budget(
        self, tenant: str, request_id: str, amount_nano: int, budget: Budget
    ) -> BudgetDecision:
        check_amount("amount_nano", amount_nano)
        if self._conn.healthy:
            now = self._clock()
            period = period_id(budget.period, now)
            try:
                reply = await self._s().reserve_budget(
                    keys=[self._keys.spent(tenant, period), *self._keys.reservations(tenant)],
                    args=[
                        self._now_arg(),
                        request_id,
                        amount_nano,
                        budget.limit_nano,
                        int(self._config.reservation_ttl_s * US),
                    ],
                )
                allowed, spent, reserved = (int(x) for x in reply)
                self._spent_seen[(tenant, budget.period)] = (period, spent)
                return budget_decision(
                    budget,
                    now,
                    allowed=bool(allowed),
                    spent=spent,
                    reserved=reserved,
                    amount=amount_nano,
                )
            except TRANSIENT_ERRORS as exc:
                self._degrade(exc)
        return await self._local().reserve_budget(tenant, request_id, amount_nano, budget)

    async def release_budget(self, tenant: str, request_id: str) -> None:
        if self._fallback is not None:
            await self._fallback.memory.release_budget(tenant, request_id)
        if self._conn.healthy:
            try:
                await self._s().release_budget(
                    keys=list(self._keys.reservations(tenant)), args=[request_id]
                )
            except TRANSIENT_ERRORS as exc:
                self._degrade(exc)  # the Redis reservation lapses after reservation_ttl_s

    async def settle(self, record: UsageRecord) -> bool:
        if self._conn.healthy:
            try:
                return (await self._settle_many([record]))[0]
            except TRANSIENT_ERRORS as exc:
                # It may have been applied before the error: the replay will find the marker.
                self._degrade(exc)
        applied = await self._local().settle(record)
        if applied and not self._spool.append(record):
            dropped = self._spool.dropped
            if dropped == 1 or dropped % 1000 == 0:
                log.error("state: usage spool full, %d records dropped so far", dropped)
        return applied

    async def _settle_many(self, records: Sequence[UsageRecord]) -> list[bool]:
        """Settle in one round trip (the spool replays batches through here too)."""
        client, usage, now = self._c(), self._u(), self._clock()
        new_tenants = {r.tenant for r in records} - self._known_tenants
        if new_tenants:
            await client.sadd(self._keys.tenants(), *new_tenants)  # idempotent
            self._known_tenants |= new_tenants
        if len(records) == 1:
            keys, args = usage.settle_call(records[0], now)
            return [bool(await self._s().settle(keys=keys, args=args))]
        pipe = client.pipeline(transaction=False)
        for record in records:
            keys, args = usage.settle_call(record, now)
            await self._s().settle(keys=keys, args=args, client=pipe)
        return [bool(r) for r in await pipe.execute()]

    # slots
    async def acquire_slot(
        self, backend: str, lease_id: str, *, general: bool, capacity: int, general_limit: int
    ) -> SlotGrant:
        grant: SlotGrant | None = None
        if self._conn.healthy:
            try:
                reply = await self._s().acquire_slot(
                    keys=list(self._keys.leases(backend)),
                    args=[
                        self._now_arg(),
                        lease_id,
                        int(general),
                        capacity,
                        general_limit,
                        self._lease_ttl_us,
                    ],
                )
                granted, in_use, in_general, next_us = (int(x) for x in reply)
                grant = SlotGrant(
                    bool(granted), in_use, in_general, None if next_us < 0 else next_us / US
                )
            except TRANSIENT_ERRORS as exc:
                self._degrade(exc)
        if grant is None:
            grant = self._local().acquire_slot(
                backend, lease_id, general=general, capacity=capacity, general_limit=general_limit
            )
        if grant.granted:
            self._held.setdefault(backend, {})[lease_id] = general
        return grant

    async def release_slot(self, backend: str, lease_id: str) -> None:
        held = self._held.get(backend)
        released = held is not None and held.pop(lease_id, None) is not None
        if held is not None and not held:
            del self._held[backend]
        if self._conn.healthy:
            try:
                released = await self._release_remote(backend, lease_id) or released
            except TRANSIENT_ERRORS as exc:
                self._degrade(exc)  # the lease lapses in Redis after lease_ttl_s
        if released:
            self._events.notify(backend)

    async def _release_remote(self, backend: str, lease_id: str) -> bool:
        removed = await self._s().release_slot(
            keys=list(self._keys.leases(backend)),
            args=[lease_id, self._events.channel, self._events.message(backend)],
        )
        return bool(removed)

    async def renew_leases(self) -> None:
        if not self._conn.healthy or not self._held:
            return
        try:
            await self._renew_all()
        except TRANSIENT_ERRORS as exc:
            self._degrade(exc)

    async def _renew_all(self) -> None:
        if not self._held:
            return
        pipe = self._c().pipeline(transaction=False)
        for backend, leases in list(self._held.items()):
            args: list[Any] = [self._now_arg(), self._lease_ttl_us]
            for lease_id, general in list(leases.items()):
                args += [lease_id, int(general)]
            await self._s().renew_leases(
                keys=list(self._keys.leases(backend)), args=args, client=pipe
            )
        await pipe.execute()

    def on_slot_released(self, listener: SlotListener) -> Callable[[], None]:
        return self._events.subscribe(listener)

    # reporting
    async def usage_report(self, filters: UsageFilter, group_by: Sequence[str]) -> UsageReport:
        self._require_redis()
        try:
            return await build_report(self._u(), filters, group_by)
        except TRANSIENT_ERRORS as exc:
            self._degrade(exc)
            raise StoreUnavailableError(describe(exc)) from exc

    async def export_records(self, filters: UsageFilter) -> AsyncIterator[UsageRecord]:
        self._require_redis()
        try:
            async for record in self._u().export(filters):
                yield record
        except TRANSIENT_ERRORS as exc:
            self._degrade(exc)
            raise StoreUnavailableError(describe(exc)) from exc

    def status(self) -> StoreStatus:
        return StoreStatus(
            kind="redis",
            state="healthy" if self._conn.healthy else "degraded",
            spooled=self._spool.pending,
            spool_dropped=self._spool.dropped,
            last_error=self._conn.last_error,
            degraded_since=self._conn.degraded_since,
        )

    # degraded mode and recovery
    def _degrade(self, exc: BaseException) -> None:
        if self._conn.mark_down(exc):
            log.warning("state: Redis unreachable (%s); deciding locally", describe(exc))
            self._fallback = None
        self._ensure_recovery()

    def _local(self) -> LocalFallback:
        if self._fallback is None:
            self._fallback = LocalFallback(
                replicas=self._config.replicas,
                clock=self._clock,
                held_leases=self._held,
                spent_seen=self._spent_seen,
                settle_marker_ttl_s=self._config.settle_marker_ttl_s,
                reservation_ttl_s=self._config.reservation_ttl_s,
            )
        return self._fallback

    def _ensure_recovery(self) -> None:
        if not self._closing and (self._recovery is None or self._recovery.done()):
            self._recovery = asyncio.create_task(self._recover())

    async def _recover(self) -> None:
        """Probe with backoff until Redis answers, then replay the spool; done when both hold."""
        cfg = self._config
        delays = backoff_delays(cfg.recovery_backoff_min_s, cfg.recovery_backoff_max_s)
        while not self._closing:
            if not self._conn.healthy:
                await asyncio.sleep(next(delays))
                try:
                    await self._probe()
                except TRANSIENT_ERRORS as exc:
                    self._conn.mark_down(exc)
                    continue
                self._known_tenants.clear()  # Redis may have come back without them
                self._conn.mark_up()
                log.info("state: Redis is back; %d spooled records to replay", self._spool.pending)
                delays = backoff_delays(cfg.recovery_backoff_min_s, cfg.recovery_backoff_max_s)
            try:
                await replay_spool(self._spool, self._settle_many, cfg.replay_batch)
            except TRANSIENT_ERRORS as exc:
                self._degrade(exc)
                continue
            except Exception as exc:  # a bug or a disk error: keep the records, retry later
                log.exception("state: spool replay failed: %s", describe(exc))
                await asyncio.sleep(next(delays))
                continue
            if self._conn.healthy and self._spool.pending == 0:
                return

    async def _probe(self) -> None:
        await self._c().ping()
        await self._s().load()
        await self._renew_all()  # leases lapsed during an outage count again

    async def _heartbeat(self) -> None:
        """Renew leases every third of their TTL; fsync the spool's tail meanwhile."""
        renew_every = self._config.lease_ttl_s / 3
        tick = renew_every
        if self._config.spool_fsync_interval_s > 0:
            tick = min(tick, self._config.spool_fsync_interval_s)
        last_renew = time.monotonic()
        while not self._closing:  # not only cancellation: redis-py can swallow one
            await asyncio.sleep(tick)
            try:
                self._spool.sync()
            except OSError as exc:
                log.error("state: cannot fsync the usage spool: %s", exc)
            if time.monotonic() - last_renew >= renew_every:
                last_renew = time.monotonic()
                await self.renew_leases()

    # plumbing
    def _now_arg(self) -> str:
        return "" if self._script_clock is None else str(int(self._script_clock() * US))

    def _require_redis(self) -> None:
        if not self._conn.healthy:
            raise StoreUnavailableError(f"Redis unreachable: {self._conn.last_error}")

    def _c(self) -> Redis:
        if self._client is None:
            raise RuntimeError("RedisStore used before start()")
        return self._client

    def _s(self) -> Scripts:
        if self._scripts is None:
            raise RuntimeError("RedisStore used before start()")
        return self._scripts

    def _u(self) -> RedisUsage:
        if self._usage is None:
            raise RuntimeError("RedisStore used before start()")
        return self._usage
