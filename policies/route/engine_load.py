"""Engine load: route by what each engine reports about itself (queue length, KV-cache use).

Reads ``BackendView.engine_load``, which the gateway fills by scraping every
backend's ``/metrics`` each ``metrics_interval_s`` while this router is in use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from policies.params import PolicyParams
from policies.protocols import BackendView
from policies.route.least_loaded import load_key
from policies.ticket import Ticket


class EngineLoadRouter:
    """Picks the backend with the highest weighted score in [0, 1]; ties → least loaded.

    Each score is in [0, 1], higher is better::

        waiting  = (w_max - w) / (w_max - w_min)   over fresh candidates (1 if all equal)
        kv_cache = 1 - kv_cache_usage
        inflight = 1 - inflight / capacity          the gateway's own count, always fresh
        score    = Σ weight·score / Σ weight

    An engine whose report is missing or older than ``stale_after_s`` counts as
    busy: its ``waiting`` and ``kv_cache`` scores are 0. The ``inflight`` term is
    there because reports lag by up to one interval: without it, every request
    in that interval would pile onto the backend that looked idlest at the last
    scrape. Set ``inflight_weight: 0`` to route on engine data alone.

    ``metrics_interval_s`` (from ``interval_s``) tells the gateway how often to
    scrape.

    .. code-block:: yaml

        scheduler:
          route:
            policy: engine_load
            waiting_weight: 1.0
            kv_cache_weight: 1.0
            inflight_weight: 0.5
            interval_s: 0.5
            stale_after_s: 2.0
    """

    class Params(PolicyParams):
        waiting_weight: float = Field(1.0, ge=0, description="weight of the engine's queue length")
        kv_cache_weight: float = Field(1.0, ge=0, description="weight of the engine's KV-cache use")
        inflight_weight: float = Field(1.0, ge=0, description="weight of the gateway's own count")
        interval_s: float = Field(0.5, gt=0, description="how often the gateway scrapes /metrics")
        stale_after_s: float = Field(
            2.0, gt=0, validate_default=True, description="older reports count as busy"
        )

        @field_validator("stale_after_s")
        @classmethod
        def _not_below_interval(cls, v: float, info: ValidationInfo) -> float:
            interval = info.data.get("interval_s")
            if interval is not None and v < interval:
                raise ValueError(
                    f"must be at least interval_s ({interval}): "
                    "reports would go stale before the next one arrives"
                )
            return v

        @model_validator(mode="after")
        def _some_weight(self) -> Self:
            if self.waiting_weight + self.kv_cache_weight + self.inflight_weight <= 0:
                raise ValueError(
                    "at least one of waiting_weight, kv_cache_weight, inflight_weight must be > 0"
                )
            return self

    kind: ClassVar[str] = "route"
    name: ClassVar[str] = "engine_load"

    __slots__ = ("_weights", "metrics_interval_s", "stale_after_s")

    def __init__(
        self,
        *,
        waiting_weight: float = 1.0,
        kv_cache_weight: float = 1.0,
        inflight_weight: float = 1.0,
        interval_s: float = 0.5,
        stale_after_s: float = 2.0,
    ) -> None:
        self._weights = (waiting_weight, kv_cache_weight, inflight_weight)
        self.metrics_interval_s: float = interval_s
        self.stale_after_s = stale_after_s

    def scores(self, backends: Sequence[BackendView], now: float) -> list[float]:
        """Each backend's score in [0, 1], in the order given."""
        w_wait, w_kv, w_inflight = self._weights
        total = w_wait + w_kv + w_inflight
        loads = [
            load if load is not None and now - load.scraped_at <= self.stale_after_s else None
            for load in (b.engine_load for b in backends)
        ]
        queues = [load.waiting for load in loads if load is not None]
        low, high = (min(queues), max(queues)) if queues else (0.0, 0.0)
        out = []
        for b, load in zip(backends, loads, strict=True):
            s = w_inflight * (1.0 - min(b.inflight / max(b.capacity, 1), 1.0))
            if load is not None:
                s += w_wait * ((high - load.waiting) / (high - low) if high > low else 1.0)
                s += w_kv * (1.0 - min(max(load.kv_cache_usage, 0.0), 1.0))
            out.append(s / total)
        return out

    def pick(self, t: Ticket, backends: Sequence[BackendView], now: float) -> BackendView:
        scored = zip(self.scores(backends, now), backends, strict=True)
        return min(scored, key=lambda sb: (-sb[0], load_key(sb[1])))[1]
