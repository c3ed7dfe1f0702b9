"""Which tokens a finished request is billed, by how it ended (table-driven, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config.schema import BackendConfig
from gateway.metering.billing import billable_tokens
from gateway.pipeline.context import RequestContext
from gateway.scheduling.scheduler import Grant
from gateway.upstream.backend import BackendState

BACKEND = BackendState(BackendConfig(name="gpu", url="http://x", models=["m"]))
ENGINE = {
    "prompt_tokens": 30,
    "completion_tokens": 7,
    "prompt_tokens_details": {"cached_tokens": 10},
}


def ctx(
    *, granted: bool, status: int, usage: Any = None, first: bool, chunks: int
) -> RequestContext:
    c = RequestContext("chat", prompt_tokens=25)
    c.grant = Grant(BACKEND, "l", True, False, 0.0, 0.0) if granted else None
    c.status, c.engine_usage, c.chunks_with_tokens = status, usage, chunks
    c.first_token_at = 1.0 if first else None
    return c


@pytest.mark.parametrize(
    ("case", "kwargs", "billed"),
    [
        (
            "done, engine usage",
            dict(granted=True, status=200, usage=ENGINE, first=True, chunks=7),
            (30, 10, 7, "engine"),
        ),
        (
            "stream broke mid-way",
            dict(granted=True, status=200, first=True, chunks=4),
            (25, 0, 4, "counted"),
        ),
        (
            "client left mid-stream",
            dict(granted=True, status=499, first=True, chunks=3),
            (25, 0, 3, "counted"),
        ),
        (
            "client left during prefill",
            dict(granted=True, status=499, first=False, chunks=0),
            (25, 0, 0, "counted"),
        ),
        (
            "engine refused (400)",
            dict(granted=True, status=400, first=False, chunks=0),
            (0, 0, 0, "counted"),
        ),
        (
            "engine failed (502), nothing out",
            dict(granted=True, status=502, first=False, chunks=0),
            (0, 0, 0, "counted"),
        ),
        (
            "every backend failed, slot given back",
            dict(granted=False, status=502, first=False, chunks=0),
            (0, 0, 0, "counted"),
        ),
    ],
)
def test_billable_tokens(case: str, kwargs: dict[str, Any], billed: tuple) -> None:
    assert billable_tokens(ctx(**kwargs)) == billed, case
