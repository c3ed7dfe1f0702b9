"""Slot-release wake-ups: local listeners, fed by this replica and, over pub/sub, by the others.

Best effort: a missed message costs a scheduler one ``SlotGrant.next_expiry_s`` timer, never a
slot. The subscription blocks without a read timeout; a dead Redis ends it with an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from gateway.state.health import TRANSIENT_ERRORS, Connectivity, describe
from gateway.state.store import SlotListener

log = logging.getLogger(__name__)


class SlotEvents:
    def __init__(self, instance: str, channel: str) -> None:
        self.channel = channel
        self._instance = instance
        self._listeners: list[SlotListener] = []
        self._pubsub: PubSub | None = None
        self._closing = False

    def subscribe(self, listener: SlotListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def notify(self, backend: str) -> None:
        for listener in list(self._listeners):
            listener(backend)

    def message(self, backend: str) -> str:
        """What release_slot.lua publishes: the sender, so it can skip its own message."""
        return f"{self._instance} {backend}"

    async def listen(
        self,
        client: Redis,
        conn: Connectivity,
        on_transient: Callable[[BaseException], None],
        pause_s: float,
    ) -> None:
        """Run until ``close()``: subscribe while Redis is healthy, notify on others' releases."""
        while not self._closing:
            await conn.wait_up()
            self._pubsub = pubsub = client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                # close() may land mid-subscribe, where redis-py can swallow the cancellation
                # and reconnect: check the flag before every blocking read.
                while conn.healthy and not self._closing:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                    if message is not None:
                        sender, _, backend = message["data"].decode().partition(" ")
                        if sender != self._instance:
                            self.notify(backend)
            except TRANSIENT_ERRORS as exc:
                if not self._closing:
                    on_transient(exc)
            except Exception as exc:  # e.g. an ACL without pub/sub
                if self._closing:
                    return
                log.error("state: slot release notifications failed: %s", describe(exc))
                await asyncio.sleep(pause_s)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def close(self) -> None:
        """Also ends a blocked read whose cancellation redis-py swallowed (it can, mid-connect)."""
        self._closing = True
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
