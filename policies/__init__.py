"""Pluggable scheduling policies: queue (who next), batch (when), route (where).

The gateway builds them from config through the registry (``build``,
``factory``); the classes are exported for tests and for direct use.
"""

from policies.batch.continuous import ContinuousBatcher
from policies.batch.token_budget import TokenBudgetBatcher
from policies.batch.window import WindowBatcher
from policies.params import PolicyParams
from policies.protocols import (
    BackendView,
    BatchPolicy,
    EngineLoad,
    QueuePolicy,
    QueueView,
    Release,
    RoutePolicy,
)
from policies.queue.edf import EarliestDeadlineQueue
from policies.queue.fair import FairShareQueue
from policies.queue.fifo import FifoQueue
from policies.queue.priority import PriorityQueue
from policies.queue.sjf import ShortestJobQueue
from policies.registry import (
    BUILTINS,
    ENTRY_POINT_GROUP,
    PolicyConfigError,
    PolicyFactory,
    PolicyKind,
    build,
    factory,
    policy_names,
    resolve,
)
from policies.route.engine_load import EngineLoadRouter
from policies.route.least_loaded import LeastLoadedRouter
from policies.route.prefix_affinity import PrefixAffinityRouter
from policies.route.round_robin import RoundRobinRouter
from policies.ticket import Ticket, Usage

__all__ = [
    "BUILTINS",
    "ENTRY_POINT_GROUP",
    "BackendView",
    "BatchPolicy",
    "ContinuousBatcher",
    "EarliestDeadlineQueue",
    "EngineLoad",
    "EngineLoadRouter",
    "FairShareQueue",
    "FifoQueue",
    "LeastLoadedRouter",
    "PolicyConfigError",
    "PolicyFactory",
    "PolicyKind",
    "PolicyParams",
    "PrefixAffinityRouter",
    "PriorityQueue",
    "QueuePolicy",
    "QueueView",
    "Release",
    "RoundRobinRouter",
    "RoutePolicy",
    "ShortestJobQueue",
    "Ticket",
    "TokenBudgetBatcher",
    "Usage",
    "WindowBatcher",
    "build",
    "factory",
    "policy_names",
    "resolve",
]
