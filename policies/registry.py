"""Policies from config: a spec names a policy and carries its parameters.

``{"policy": "window", "max_wait_ms": 200, "min_batch": 8}`` becomes
``WindowBatcher(max_wait_ms=200.0, min_batch=8, max_batch=None)``.

A name is looked up, in order, as:

1. a ``module:Class`` path (anything with a colon), imported as is;
2. a built-in of the requested kind (the explicit ``BUILTINS`` list below; a
   built-in name cannot be taken over by a plugin);
3. an entry point of the ``tokengate.policies`` group whose name is the policy
   name and whose value is ``module:Class``. The class declares its kind with a
   class attribute ``kind = "queue" | "batch" | "route"``, so one name may
   serve different kinds in different packages::

       [project.entry-points."tokengate.policies"]
       wfq = "acme_policies.wfq:WeightedFairQueue"   # class WeightedFairQueue: kind = "queue"

A policy class has the methods of its protocol (``policies.protocols``), a
``name`` and a ``kind`` (``kind`` is optional for ``module:Class`` paths), and
optionally a nested pydantic ``Params`` model (built-ins use
``PolicyParams``: unknown keys are errors). The spec's other keys are
validated by ``Params`` and passed to the constructor as keyword arguments; a
class without ``Params`` takes none. Every failure raises ``PolicyConfigError``
naming the field path given by the caller (``tiers.economy.batch.policy``,
``tiers.economy.batch.max_wait_ms``), the bad value, and the valid choices.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
from collections.abc import Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar, get_args, overload

from pydantic import BaseModel, ValidationError

from policies.batch.continuous import ContinuousBatcher
from policies.batch.token_budget import TokenBudgetBatcher
from policies.batch.window import WindowBatcher
from policies.protocols import BatchPolicy, QueuePolicy, RoutePolicy
from policies.queue.edf import EarliestDeadlineQueue
from policies.queue.fair import FairShareQueue
from policies.queue.fifo import FifoQueue
from policies.queue.priority import PriorityQueue
from policies.queue.sjf import ShortestJobQueue
from policies.route.engine_load import EngineLoadRouter
from policies.route.least_loaded import LeastLoadedRouter
from policies.route.prefix_affinity import PrefixAffinityRouter
from policies.route.round_robin import RoundRobinRouter

PolicyKind = Literal["queue", "batch", "route"]
KINDS: tuple[PolicyKind, ...] = get_args(PolicyKind)
ENTRY_POINT_GROUP = "tokengate.policies"

BUILTINS: Mapping[PolicyKind, tuple[type, ...]] = {
    "queue": (FifoQueue, PriorityQueue, FairShareQueue, ShortestJobQueue, EarliestDeadlineQueue),
    "batch": (ContinuousBatcher, WindowBatcher, TokenBudgetBatcher),
    "route": (RoundRobinRouter, LeastLoadedRouter, PrefixAffinityRouter, EngineLoadRouter),
}

# What a class needs to be taken for a policy of each kind (its protocol's methods).
_METHODS: Mapping[PolicyKind, tuple[str, ...]] = {
    "queue": ("push", "pop", "remove", "__len__", "on_dispatch", "on_finish"),
    "batch": ("plan",),
    "route": ("pick",),
}

P = TypeVar("P")


class PolicyConfigError(ValueError):
    """A policy spec that cannot be built; ``str()`` names each field path and value.

    ``problems`` holds ``(field path, message, value)`` per problem, the first
    also as ``field`` and ``value``; ``valid`` lists the accepted choices when
    the problem is a name (or a parameter name).
    """

    def __init__(self, problems: Sequence[tuple[str, str, Any]], valid: Sequence[str] = ()) -> None:
        self.problems = list(problems)
        self.field, _, self.value = self.problems[0]
        self.valid = tuple(valid)
        super().__init__("; ".join(f"{path}: {message}" for path, message, _ in self.problems))


class PolicyFactory(Generic[P]):
    """Builds fresh, independent instances of one validated spec.

    The scheduler needs one queue per slot class per model and one batcher per
    tier per model; policies hold state, so instances are never shared.
    ``factory()`` returns the same object for an identical spec, so a hot reload
    can tell an unchanged spec by identity and keep its running instances.
    """

    __slots__ = ("cls", "kind", "kwargs", "name")

    def __init__(self, kind: PolicyKind, name: str, cls: type, kwargs: Mapping[str, Any]) -> None:
        self.kind = kind
        self.name = name  # as written in the spec
        self.cls = cls
        self.kwargs = dict(kwargs)

    def __call__(self) -> P:
        policy: P = self.cls(**self.kwargs)
        return policy

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"PolicyFactory({self.kind}: {self.cls.__qualname__}({args}))"


_factories: dict[tuple[str, str], PolicyFactory[Any]] = {}
_FACTORY_CACHE = 256


@overload
def factory(
    kind: Literal["queue"], spec: object, field: str | None = None
) -> PolicyFactory[QueuePolicy]: ...
@overload
def factory(
    kind: Literal["batch"], spec: object, field: str | None = None
) -> PolicyFactory[BatchPolicy]: ...
@overload
def factory(
    kind: Literal["route"], spec: object, field: str | None = None
) -> PolicyFactory[RoutePolicy]: ...
def factory(kind: PolicyKind, spec: object, field: str | None = None) -> PolicyFactory[Any]:
    """Validate ``spec`` once and return a factory of fresh instances.

    ``field`` is the spec's path in the config, used in error messages
    (default: the kind). One instance is built here, so a constructor that
    rejects its arguments fails now, at config time.
    """
    field = field or str(kind)
    if kind not in KINDS:
        raise PolicyConfigError([(field, f"unknown policy kind {kind!r}", kind)], KINDS)
    if not isinstance(spec, Mapping):
        message = f"expected a mapping like {{policy: <name>, ...params}}, got {spec!r}"
        raise PolicyConfigError([(field, message, spec)])
    try:
        cache_key: tuple[str, str] | None = (kind, json.dumps(spec, sort_keys=True, default=repr))
    except TypeError:  # keys that are not all strings: build, just do not cache
        cache_key = None
    cached = _factories.get(cache_key) if cache_key is not None else None
    if cached is not None:
        return cached
    name = spec.get("policy")
    cls = resolve(kind, name, f"{field}.policy")
    kwargs = _params(kind, str(name), cls, {k: v for k, v in spec.items() if k != "policy"}, field)
    made: PolicyFactory[Any] = PolicyFactory(kind, str(name), cls, kwargs)
    try:
        made()
    except Exception as exc:
        message = f"{kind} policy {name!r} cannot be built: {type(exc).__name__}: {exc}"
        raise PolicyConfigError([(f"{field}.policy", message, name)]) from exc
    if cache_key is not None:
        if len(_factories) >= _FACTORY_CACHE:
            _factories.clear()
        _factories[cache_key] = made
    return made


@overload
def build(kind: Literal["queue"], spec: object, field: str | None = None) -> QueuePolicy: ...
@overload
def build(kind: Literal["batch"], spec: object, field: str | None = None) -> BatchPolicy: ...
@overload
def build(kind: Literal["route"], spec: object, field: str | None = None) -> RoutePolicy: ...
def build(kind: PolicyKind, spec: object, field: str | None = None) -> Any:
    """One fresh instance of ``spec``: ``factory(kind, spec, field)()``."""
    return factory(kind, spec, field)()


def resolve(kind: PolicyKind, name: object, field: str = "policy") -> type:
    """The class a policy name stands for; ``field`` is the name's own path (``….policy``)."""
    if not isinstance(name, str) or not name.strip():
        message = f"expected a {kind} policy name, got {name!r}"
        if name is None:
            message = f"missing: name the {kind} policy"
        raise PolicyConfigError([(field, message + _choices(kind), name)], policy_names(kind))
    if ":" in name:
        return _checked(kind, name, _import(kind, name, field), field, need_kind=False)
    for cls in BUILTINS[kind]:
        if cls.name == name:
            return cls
    found = _entry_point_classes(kind, name, field)
    if found is not None:
        return found
    other = [k for k in KINDS if k != kind and name in _builtin_names(k)]
    if other:
        what = f"{name!r} is a {other[0]} policy, not a {kind} policy"
    else:
        what = f"unknown {kind} policy {name!r}"
    raise PolicyConfigError([(field, what + _choices(kind), name)], policy_names(kind))


def policy_names(kind: PolicyKind) -> list[str]:
    """Valid names for ``kind``: built-ins, then loadable entry points of that kind, sorted."""
    names = _builtin_names(kind)
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in names:
            continue
        try:
            obj = ep.load()
        except Exception:  # a broken plugin must not break the error message about another
            continue
        if getattr(obj, "kind", None) == kind:
            names.append(ep.name)
    return sorted(set(names))


# -- the pieces -------------------------------------------------------------------


def _builtin_names(kind: PolicyKind) -> list[str]:
    return [cls.name for cls in BUILTINS[kind]]


def _choices(kind: PolicyKind) -> str:
    return f" (valid: {', '.join(policy_names(kind))}; or a 'module:Class' path)"


def _import(kind: PolicyKind, path: str, field: str) -> object:
    module_name, _, attr = path.partition(":")
    try:
        obj: object = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as exc:
        message = f"cannot load {kind} policy {path!r}: {type(exc).__name__}: {exc}"
        raise PolicyConfigError([(field, message, path)]) from exc
    return obj


def _entry_point_classes(kind: PolicyKind, name: str, field: str) -> type | None:
    """The entry point named ``name`` whose class is of ``kind``; None when there is none."""
    eps = [ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not eps:
        return None
    mine: dict[object, str] = {}
    kinds: list[str] = []
    for ep in eps:
        try:
            obj = ep.load()
        except Exception as exc:
            message = (
                f"entry point {name!r} = {ep.value!r} of group {ENTRY_POINT_GROUP!r} "
                f"cannot be loaded: {type(exc).__name__}: {exc}"
            )
            raise PolicyConfigError([(field, message, name)]) from exc
        declared = getattr(obj, "kind", None)
        kinds.append(str(declared))
        if declared == kind:
            mine[obj] = ep.value
    if not mine:
        if all(k in KINDS for k in kinds):
            theirs = " and ".join(sorted(set(kinds)))
            what = f"entry point {name!r} is a {theirs} policy, not a {kind} policy"
        else:
            what = f"entry point {name!r} must declare its kind: a class attribute kind = {kind!r}"
        raise PolicyConfigError([(field, what + _choices(kind), name)], policy_names(kind))
    if len(mine) > 1:
        values = ", ".join(sorted(mine.values()))
        message = f"{kind} policy {name!r} is ambiguous: several packages provide it ({values})"
        raise PolicyConfigError([(field, message, name)])
    obj = next(iter(mine))
    return _checked(kind, name, obj, field, need_kind=True)


def _checked(kind: PolicyKind, name: str, obj: object, field: str, need_kind: bool) -> type:
    """``obj`` if it is a class fit to be a ``kind`` policy."""
    if not isinstance(obj, type):
        message = f"{name!r} is {type(obj).__name__} {obj!r}, not a {kind} policy class"
        raise PolicyConfigError([(field, message, name)])
    declared = getattr(obj, "kind", None)
    if (need_kind or declared is not None) and declared != kind:
        message = f"{name!r} declares kind = {declared!r}, not {kind!r}"
        raise PolicyConfigError([(field, message, name)])
    missing = [m for m in _METHODS[kind] if not callable(getattr(obj, m, None))]
    if missing:
        message = (
            f"{name!r} does not implement the {kind} policy protocol "
            f"(missing: {', '.join(missing)})"
        )
        raise PolicyConfigError([(field, message, name)])
    params = getattr(obj, "Params", None)
    if params is not None and not (isinstance(params, type) and issubclass(params, BaseModel)):
        message = f"{name!r} has a Params that is not a pydantic model"
        raise PolicyConfigError([(field, message, name)])
    return obj


def _params(
    kind: PolicyKind, name: str, cls: type, given: Mapping[str, Any], field: str
) -> dict[str, Any]:
    """The validated constructor keywords of ``cls`` from the spec's other keys."""
    model: type[BaseModel] | None = getattr(cls, "Params", None)
    accepted = sorted(model.model_fields) if model is not None else []
    if model is None:
        if not given:
            return {}
        takes_none = f"unknown parameter: {kind} policy {name!r} takes none"
        problems = [(f"{field}.{k}", f"{takes_none} (value: {v!r})", v) for k, v in given.items()]
        raise PolicyConfigError(problems)
    try:
        validated = model.model_validate(dict(given))
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            path = ".".join([field, *map(str, err["loc"])])
            if err["type"] == "extra_forbidden":
                valid = ", ".join(accepted)
                message = f"unknown parameter of {kind} policy {name!r} (valid: {valid})"
            elif err["type"] == "missing":
                message = f"{kind} policy {name!r} needs this parameter"
            else:
                message = err["msg"].removeprefix("Value error, ")
            value = err.get("input") if err["type"] != "missing" else None
            if err["type"] != "missing":
                message += f" (value: {value!r})"
            problems.append((path, message, value))
        raise PolicyConfigError(problems, accepted) from exc
    return {key: getattr(validated, key) for key in model.model_fields}
