"""Shared state: rate limits, budgets, backend slots and usage, in memory or in Redis."""

from gateway.state.config import StateConfig, mask_url, store_from_config
from gateway.state.memory import MemoryStore
from gateway.state.store import (
    Budget,
    BudgetDecision,
    Clock,
    RateDecision,
    RateLimits,
    SlotGrant,
    SlotListener,
    Store,
    StoreStatus,
    StoreUnavailableError,
)
from gateway.state.usage import ReportGroup, UsageFilter, UsageReport, UsageTotals

__all__ = [
    "Budget",
    "BudgetDecision",
    "Clock",
    "MemoryStore",
    "RateDecision",
    "RateLimits",
    "ReportGroup",
    "SlotGrant",
    "SlotListener",
    "StateConfig",
    "Store",
    "StoreStatus",
    "StoreUnavailableError",
    "UsageFilter",
    "UsageReport",
    "UsageTotals",
    "mask_url",
    "store_from_config",
]
