"""One inference server as the gateway tracks it: health, slots in use, engine load.

Counts here are this replica's; with shared state the slot ledger keeps the
fleet-wide view next to them.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.config.schema import BackendConfig
from policies.protocols import EngineLoad


class BackendState:
    """Mutable runtime state of a backend; implements the routers' ``BackendView``."""

    __slots__ = (
        "_listeners",
        "config",
        "engine_load",
        "general_inflight",
        "healthy",
        "inflight_tokens",
        "last_error",
        "reserve_inflight",
        "reserved_inflight",
    )

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self.healthy = False  # unknown until the first health check passes
        self.general_inflight = 0  # requests of tiers without use_reserve
        self.reserve_inflight = 0  # requests of reserve-using tiers (reserved or borrowed slots)
        self.reserved_inflight = 0  # of those, the ones inside the reserved share
        self.inflight_tokens = 0
        self.engine_load: EngineLoad | None = None
        self.last_error: str | None = None
        self._listeners: list[Callable[[], None]] = []

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def capacity(self) -> int:
        return self.config.capacity

    @property
    def general_limit(self) -> int:
        return self.config.general_slots

    @property
    def reserved_slots(self) -> int:
        return self.config.capacity - self.config.general_slots

    @property
    def inflight(self) -> int:
        return self.general_inflight + self.reserve_inflight

    def models(self) -> dict[str, str]:
        return self.config.models

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` when a slot frees or health flips (schedulers wake on it)."""
        self._listeners.append(listener)

    def drop_listener(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def changed(self) -> None:
        for listener in self._listeners:
            listener()

    def set_health(self, healthy: bool, error: str | None = None) -> bool:
        """Record a health verdict; True when it flipped."""
        self.last_error = error
        if healthy == self.healthy:
            return False
        self.healthy = healthy
        self.changed()
        return True
