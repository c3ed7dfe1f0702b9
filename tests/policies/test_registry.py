"""The registry: built-in names, module:Class paths, entry points, errors naming the field."""

from __future__ import annotations

import inspect
import itertools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic_core import PydanticUndefined

from policies import registry
from policies.protocols import BatchPolicy, QueuePolicy, RoutePolicy
from policies.queue.fifo import FifoQueue
from policies.registry import BUILTINS, PolicyConfigError, build, factory, policy_names

PROTOCOLS = {"queue": QueuePolicy, "batch": BatchPolicy, "route": RoutePolicy}
REQUIRED = {"token_budget": {"max_tokens_in_flight": 100_000}}  # params without a default
ALL_BUILTINS = [(kind, cls) for kind, classes in BUILTINS.items() for cls in classes]
_unique = itertools.count()


@pytest.mark.parametrize(("kind", "cls"), ALL_BUILTINS, ids=[c.name for _, c in ALL_BUILTINS])
def test_every_builtin_builds_by_name(kind: registry.PolicyKind, cls: type) -> None:
    policy = build(kind, {"policy": cls.name, **REQUIRED.get(cls.name, {})}, f"x.{kind}")
    assert type(policy) is cls
    assert isinstance(policy, PROTOCOLS[kind])
    assert cls.kind == kind


def test_valid_names() -> None:
    assert policy_names("queue") == ["edf", "fair", "fifo", "priority", "sjf"]
    assert policy_names("batch") == ["continuous", "token_budget", "window"]
    assert policy_names("route") == [
        "engine_load",
        "least_loaded",
        "prefix_affinity",
        "round_robin",
    ]


def test_params_arrive_as_keyword_arguments() -> None:
    spec = {"policy": "window", "max_wait_ms": 2500, "min_batch": 32, "max_batch": 64}
    batcher = build("batch", spec, "tiers.economy.batch")
    assert (batcher.max_wait_s, batcher.min_batch, batcher.max_batch) == (2.5, 32, 64)  # type: ignore[attr-defined]
    router = build("route", {"policy": "engine_load", "interval_s": 0.25}, "scheduler.route")
    assert router.metrics_interval_s == 0.25  # type: ignore[attr-defined]


def test_a_factory_builds_fresh_instances_and_is_shared_for_equal_specs() -> None:
    make = factory("queue", {"policy": "fair", "output_weight": 3}, "scheduler.queue")
    assert make() is not make()
    assert type(make()).__name__ == "FairShareQueue"
    assert factory("queue", {"output_weight": 3, "policy": "fair"}, "models.m.queue") is make
    assert factory("queue", {"policy": "fair", "output_weight": 4}, "scheduler.queue") is not make


@pytest.mark.parametrize(("kind", "cls"), ALL_BUILTINS, ids=[c.name for _, c in ALL_BUILTINS])
def test_constructor_defaults_match_params(kind: str, cls: type) -> None:
    """Direct construction (tests, embedding) and config must mean the same policy."""
    params = getattr(cls, "Params", None)
    signature = inspect.signature(cls)
    if params is None:
        assert not signature.parameters
        return
    assert list(signature.parameters) == list(params.model_fields)
    for name, field in params.model_fields.items():
        default = signature.parameters[name].default
        if field.default is PydanticUndefined:
            assert default is inspect.Parameter.empty
        else:
            assert default == field.default


@pytest.mark.parametrize(("kind", "cls"), ALL_BUILTINS, ids=[c.name for _, c in ALL_BUILTINS])
def test_each_policy_documents_its_yaml(kind: str, cls: type) -> None:
    doc = cls.__doc__ or ""
    assert "code-block:: yaml" in doc
    assert f"policy: {cls.name}" in doc


@pytest.mark.parametrize(
    ("kind", "spec", "field", "names_field", "mentions"),
    [
        pytest.param(
            "batch",
            {"policy": "wibble"},
            "tiers.economy.batch",
            "tiers.economy.batch.policy",
            ["'wibble'", "continuous, token_budget, window"],
            id="unknown name",
        ),
        pytest.param(
            "queue",
            {"policy": "window"},
            "scheduler.queue",
            "scheduler.queue.policy",
            ["'window' is a batch policy", "edf, fair, fifo, priority, sjf"],
            id="wrong kind",
        ),
        pytest.param(
            "route",
            {},
            "models.m.route",
            "models.m.route.policy",
            ["missing", "least_loaded, prefix_affinity"],
            id="no name",
        ),
        pytest.param(
            "route",
            {"policy": 7},
            "scheduler.route",
            "scheduler.route.policy",
            ["got 7"],
            id="not a string",
        ),
        pytest.param(
            "batch",
            "window",
            "tiers.t.batch",
            "tiers.t.batch",
            ["expected a mapping", "'window'"],
            id="not a mapping",
        ),
        pytest.param(
            "batch",
            {"policy": "window", "max_wait_ms": -5},
            "tiers.economy.batch",
            "tiers.economy.batch.max_wait_ms",
            ["greater than or equal to 0", "(value: -5)"],
            id="param out of range",
        ),
        pytest.param(
            "batch",
            {"policy": "window", "min_wait_ms": 5},
            "tiers.economy.batch",
            "tiers.economy.batch.min_wait_ms",
            ["unknown parameter", "max_batch, max_wait_ms, min_batch", "(value: 5)"],
            id="unknown param",
        ),
        pytest.param(
            "batch",
            {"policy": "window", "min_batch": "eight"},
            "tiers.economy.batch",
            "tiers.economy.batch.min_batch",
            ["(value: 'eight')"],
            id="param of the wrong type",
        ),
        pytest.param(
            "batch",
            {"policy": "window", "min_batch": 8, "max_batch": 2},
            "tiers.economy.batch",
            "tiers.economy.batch.max_batch",
            ["at least min_batch (8)", "(value: 2)"],
            id="params that disagree",
        ),
        pytest.param(
            "batch",
            {"policy": "token_budget"},
            "tiers.bulk.batch",
            "tiers.bulk.batch.max_tokens_in_flight",
            ["needs this parameter"],
            id="required param",
        ),
        pytest.param(
            "queue",
            {"policy": "fifo", "x": 1},
            "scheduler.queue",
            "scheduler.queue.x",
            ["takes none", "(value: 1)"],
            id="no params",
        ),
        pytest.param(
            "route",
            {"policy": "engine_load", "interval_s": 3},
            "scheduler.route",
            "scheduler.route.stale_after_s",
            ["at least interval_s (3.0)", "(value: 2.0)"],
            id="default checked against a given param",
        ),
        pytest.param(
            "queue",
            {"policy": "no_such_module_here:Queue"},
            "scheduler.queue",
            "scheduler.queue.policy",
            ["cannot load", "ModuleNotFoundError"],
            id="bad module path",
        ),
        pytest.param(
            "route",
            {"policy": "policies.queue.fifo:FifoQueue"},
            "scheduler.route",
            "scheduler.route.policy",
            ["declares kind = 'queue', not 'route'"],
            id="path to the wrong kind",
        ),
        pytest.param(
            "batch",
            {"policy": "collections:OrderedDict"},
            "tiers.t.batch",
            "tiers.t.batch.policy",
            ["missing: plan"],
            id="path to something that is not a policy",
        ),
    ],
)
def test_errors_name_the_field_the_value_and_the_choices(
    kind: registry.PolicyKind, spec: object, field: str, names_field: str, mentions: list[str]
) -> None:
    with pytest.raises(PolicyConfigError) as caught:
        build(kind, spec, field)
    message = str(caught.value)
    assert caught.value.field == names_field
    assert message.startswith(f"{names_field}: ")
    for words in mentions:
        assert words in message


def test_every_bad_param_is_reported_at_once() -> None:
    spec = {"policy": "window", "max_wait_ms": -1, "min_batch": 0}
    with pytest.raises(PolicyConfigError) as caught:
        build("batch", spec, "tiers.economy.batch")
    fields = [path for path, _, _ in caught.value.problems]
    assert fields == ["tiers.economy.batch.max_wait_ms", "tiers.economy.batch.min_batch"]
    assert [value for _, _, value in caught.value.problems] == [-1, 0]


def test_an_unknown_kind_is_a_config_error() -> None:
    with pytest.raises(PolicyConfigError, match="unknown policy kind 'colour'"):
        build("colour", {"policy": "fifo"})  # type: ignore[call-overload]


# -- module:Class and entry points ----------------------------------------------------

PLUGIN = """
from pydantic import BaseModel, ConfigDict

from policies.queue.fifo import FifoQueue


class WeightedQueue(FifoQueue):
    name = "wq"


class Sized:
    kind = "batch"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        size: int

    def __init__(self, *, size: int) -> None:
        self.size = size

    def plan(self, view, free_slots, now):
        raise NotImplementedError


class Kindless:
    def plan(self, view, free_slots, now):
        raise NotImplementedError


class Broken:
    kind = "batch"

    def __init__(self) -> None:
        raise RuntimeError("no GPU today")

    def plan(self, view, free_slots, now):
        raise NotImplementedError


class Sticky:
    kind = "route"

    def pick(self, t, backends, now):
        return backends[0]


class Hijack(FifoQueue):
    pass


class Twin(FifoQueue):
    pass
"""


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
    """Install a plugin module (and its dist-info with entry points) on sys.path.

    Returns a function giving the unique entry-point name for a short one, so
    tests never meet a factory cached for the same spec by another test.
    """
    n = next(_unique)
    module = f"acme_policies_{n}"
    (tmp_path / f"{module}.py").write_text(PLUGIN)
    names = {s: f"{s}_{n}" for s in ("wq", "kindless", "sticky", "broken", "twin", "sized")}
    entries = {
        names["wq"]: "WeightedQueue",
        names["kindless"]: "Kindless",
        names["sticky"]: "Sticky",
        names["broken"]: "DoesNotExist",
        names["twin"]: "Twin",
        names["sized"]: "Sized",
        "fifo": "Hijack",  # a plugin may not take over a built-in name
    }
    for dist, extra in ((f"acme_{n}", {}), (f"acme_twin_{n}", {names["twin"]: "WeightedQueue"})):
        info = tmp_path / f"{dist}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        lines = [f"{ep} = {module}:{attr}" for ep, attr in (extra or entries).items()]
        (info / "entry_points.txt").write_text("[tokengate.policies]\n" + "\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield lambda short: names.get(short, short) if short != "module" else module
    sys.modules.pop(module, None)


def test_a_module_class_path(plugins: Callable[[str], str]) -> None:
    module = plugins("module")
    sized = build("batch", {"policy": f"{module}:Sized", "size": 3}, "tiers.t.batch")
    assert type(sized).__name__ == "Sized" and sized.size == 3  # type: ignore[attr-defined]
    # kind is optional on a path: the protocol's methods suffice
    assert (
        type(build("batch", {"policy": f"{module}:Kindless"}, "tiers.t.batch")).__name__
        == "Kindless"
    )
    with pytest.raises(PolicyConfigError) as caught:
        build("batch", {"policy": f"{module}:Sized", "size": "big"}, "tiers.t.batch")
    assert caught.value.field == "tiers.t.batch.size" and "'big'" in str(caught.value)
    with pytest.raises(
        PolicyConfigError,
        match=r"^tiers\.t\.batch\.policy: .*cannot be built: RuntimeError: no GPU today",
    ):
        build("batch", {"policy": f"{module}:Broken"}, "tiers.t.batch")
    with pytest.raises(PolicyConfigError, match="AttributeError"):
        build("batch", {"policy": f"{module}:Nothing"}, "tiers.t.batch")


def test_an_entry_point_by_name(plugins: Callable[[str], str]) -> None:
    wq, sticky = plugins("wq"), plugins("sticky")
    assert type(build("queue", {"policy": wq}, "scheduler.queue")).__name__ == "WeightedQueue"
    assert type(build("route", {"policy": sticky}, "scheduler.route")).__name__ == "Sticky"
    assert wq in policy_names("queue") and wq not in policy_names("route")
    assert sticky in policy_names("route")


def test_entry_points_are_listed_among_the_valid_names(plugins: Callable[[str], str]) -> None:
    with pytest.raises(PolicyConfigError) as caught:
        build("queue", {"policy": "nope"}, "scheduler.queue")
    assert plugins("wq") in caught.value.valid
    assert plugins("wq") in str(caught.value)
    assert plugins("broken") not in caught.value.valid


def test_a_builtin_name_cannot_be_taken_over(plugins: Callable[[str], str]) -> None:
    assert type(build("queue", {"policy": "fifo"}, "scheduler.queue")) is FifoQueue


@pytest.mark.parametrize(
    ("short", "kind", "mentions"),
    [
        ("wq", "batch", "is a queue policy, not a batch policy"),
        ("kindless", "batch", "must declare its kind: a class attribute kind = 'batch'"),
        ("broken", "queue", "cannot be loaded: AttributeError"),
        ("twin", "queue", "ambiguous: several packages provide it"),
    ],
)
def test_entry_point_errors(
    plugins: Callable[[str], str], short: str, kind: registry.PolicyKind, mentions: str
) -> None:
    with pytest.raises(PolicyConfigError) as caught:
        build(kind, {"policy": plugins(short)}, f"scheduler.{kind}")
    assert caught.value.field == f"scheduler.{kind}.policy"
    assert mentions in str(caught.value)
