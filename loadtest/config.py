"""The run configuration: one pydantic model, built by the CLI or by code (``compare``).

Durations accept seconds or strings like ``30s``, ``2m``, ``500ms``, ``1h``; lengths accept
``128`` or strings like ``uniform:100:300`` (see ``loadtest.lengths``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from loadtest.lengths import FixedLength, LengthDistribution, parse_length
from loadtest.profiles import Profile

_UNITS = {"ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|min|m|h)?\s*$")


def parse_duration(value: Any) -> float:
    """``30s`` → 30.0, ``2m`` → 120.0, ``1.5h``, ``250ms``; a bare number is seconds."""
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"bad duration {value!r}; use e.g. 30s, 2m, 500ms, 1h")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


Seconds = Annotated[float, BeforeValidator(parse_duration)]


def _length(value: Any) -> Any:
    """``128`` or ``"uniform:100:300"`` as well as the full model."""
    if isinstance(value, int | str) and not isinstance(value, bool):
        return parse_length(str(value))
    return value


Length = Annotated[LengthDistribution, BeforeValidator(_length)]


class Tier(BaseModel):
    """One API key, the tier it stands for, and its share of the requests."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "default"
    api_key: str = Field(repr=False)
    share: float = Field(1.0, gt=0)


class SLO(BaseModel):
    """Service-level objectives for goodput, in milliseconds (vLLM's ttft/tpot/e2el)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ttft_ms: float | None = Field(None, ge=0)
    tpot_ms: float | None = Field(None, ge=0)
    e2e_ms: float | None = Field(None, ge=0)


class RunConfig(BaseModel):
    """Everything that decides what one run sends; the seed makes it reproducible."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(description="OpenAI-compatible base URL, with or without /v1")
    model: str
    tiers: list[Tier] = Field(min_length=1)
    profile: Profile
    duration_s: Seconds | None = Field(None, gt=0, description="sending window after warm-up")
    requests: int | None = Field(None, ge=1, description="requests after warm-up")
    warmup_s: Seconds = Field(0.0, ge=0, description="sent first and left out of the stats")
    seed: int = 0
    prompt_tokens: Length = FixedLength(value=256)
    output_tokens: Length = FixedLength(value=128)
    dataset: Path | None = None
    # With a dataset: output length from each recorded reply, or from ``output_tokens``.
    dataset_output: Literal["reply", "distribution"] = "reply"
    endpoint: Literal["chat", "completions"] = "chat"
    stream: bool = True
    ignore_eos: bool = True  # vLLM extension: generate exactly max_tokens
    min_tokens: bool = True  # vLLM extension: min_tokens = max_tokens
    extra_body: dict[str, Any] = Field(default_factory=dict)
    slo: SLO | None = None
    gpus: int | None = Field(None, ge=1)
    admin_key: str | None = Field(None, repr=False)
    admin_url: str | None = None
    connect_timeout_s: Seconds = Field(10.0, gt=0)
    read_timeout_s: Seconds = Field(120.0, gt=0, description="longest silence inside a response")
    drain_timeout_s: Seconds | None = Field(None, gt=0, description="wait for stragglers")

    @model_validator(mode="after")
    def _bounded(self) -> RunConfig:
        if self.duration_s is None and self.requests is None:
            raise ValueError("give a duration or a request count")
        names = [t.name for t in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError(f"tier names must be unique: {names}")
        return self

    @property
    def api_base(self) -> str:
        """The base URL ending in /v1, as the OpenAI SDK takes it."""
        url = self.base_url.rstrip("/")
        return url if url.endswith("/v1") else f"{url}/v1"

    @property
    def server_root(self) -> str:
        """Where /admin/* lives: ``admin_url``, else the base URL without /v1."""
        url = (self.admin_url or self.base_url).rstrip("/")
        return url.removesuffix("/v1")
