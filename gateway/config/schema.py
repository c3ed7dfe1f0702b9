"""The configuration schema: pydantic models of every section of ``gateway.yaml``.

Cross-section rules (a key's tier exists, every model has a backend, policy specs
resolve) live in ``GatewayConfig``'s validator so that ``check-config`` reports
them with the same field paths as plain type errors.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.state.config import StateConfig

Problem = tuple[tuple[str | int, ...], str, Any]  # (field path, message, value)
PolicySpec = dict[
    str, Any
]  # {"policy": name-or-module:Class, **params}; resolved by policies.registry


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_body_bytes: int = Field(8 * 1024 * 1024, gt=0, description="413 above this")
    header_timeout_s: float = Field(
        15.0, gt=0, description="a client must send its request headers within this (slowloris)"
    )
    body_timeout_s: float = Field(30.0, gt=0, description="and its body within this")
    access_log: bool = True
    shutdown_grace_s: float = Field(30.0, ge=0)


class TokenizerConfig(Strict):
    encoding: str = Field(
        "cl100k_base", description="tiktoken encoding name or a path to a .tiktoken file"
    )
    tokens_per_message: int = 3  # chat-format overhead, as OpenAI's cookbook counts it
    tokens_per_name: int = 1
    reply_priming_tokens: int = 3
    image_tokens: int = Field(85, ge=0, description="flat cost of an image content part")


class TimeoutsConfig(Strict):
    connect_s: float = Field(5.0, gt=0)
    between_chunks_s: float | None = Field(
        120.0, gt=0, description="streaming: longest silence between two chunks"
    )
    response_s: float | None = Field(
        None, gt=0, description="non-streaming: longest wait for the whole response; none = no cap"
    )


class HealthConfig(Strict):
    path: str = "/health"
    interval_s: float = Field(5.0, gt=0)
    timeout_s: float = Field(2.0, gt=0)
    unhealthy_after: int = Field(2, ge=1, description="consecutive failures before marking down")
    healthy_after: int = Field(1, ge=1, description="consecutive successes before marking up")


class BackendConfig(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    url: str = Field(pattern=r"^https?://")
    api_key: str | None = Field(None, repr=False)
    models: dict[str, str] = Field(description="public model name → the engine's model name")
    capacity: int = Field(64, ge=1, description="concurrent requests the gateway lets it run")
    gpus: int = Field(1, ge=1)
    gpu_hour_usd: float = Field(0.0, ge=0)
    reserve: float = Field(
        0.0, ge=0, lt=1, description="share of capacity only reserve tiers may use"
    )
    timeouts: TimeoutsConfig = TimeoutsConfig()
    health: HealthConfig = HealthConfig()

    @field_validator("models", mode="before")
    @classmethod
    def _list_means_same_name(cls, v: Any) -> Any:
        if isinstance(v, list):
            return {str(m): str(m) for m in v}
        return v

    @field_validator("url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")

    @property
    def general_slots(self) -> int:
        """Slots tiers without ``use_reserve`` may hold: floor((1 - reserve) · capacity)."""
        return math.floor(self.capacity * (1.0 - self.reserve) + 1e-9)


class ModelConfig(Strict):
    max_context: int = Field(131072, ge=1, description="the model's own limit: prompt + max_tokens")
    queue: PolicySpec | None = Field(None, description="overrides scheduler.queue for this model")
    route: PolicySpec | None = Field(None, description="overrides scheduler.route for this model")


class SchedulerConfig(Strict):
    queue: PolicySpec = Field(default_factory=lambda: {"policy": "fifo"})
    route: PolicySpec = Field(default_factory=lambda: {"policy": "least_loaded"})


class Prices(Strict):
    """USD per 1M tokens."""

    input: float = Field(0.0, ge=0)
    cached_input: float | None = Field(None, ge=0, description="defaults to the input price")
    output: float = Field(0.0, ge=0)


class TierConfig(Strict):
    prices: Prices = Prices()
    min_ttft_ms: float = Field(0.0, ge=0, description="deliberate TTFT floor")
    dispatch_lead_ms: float | None = Field(
        None,
        ge=0,
        description="spend the floor queued, not on a slot: dispatch no earlier than this "
        "long before the floor (about the engine's TTFT); unset: dispatch as soon as released",
    )
    ttft_target_ms: float | None = Field(
        None, gt=0, description="EDF deadline; defaults to max(min_ttft_ms, 1000)"
    )
    max_output_tokens_per_s: float | None = Field(
        None, gt=0, description="speed cap after the first token"
    )
    max_context: int | None = Field(None, ge=1, description="prompt + max_tokens cap for this tier")
    on_overflow: Literal["reject", "truncate"] = "reject"
    max_output_tokens: int | None = Field(None, ge=1)
    on_max_tokens: Literal["clamp", "reject"] = "clamp"
    priority: int = 0
    weight: float = Field(1.0, gt=0)
    queue_timeout_ms: float = Field(30_000.0, gt=0)
    batch: PolicySpec = Field(default_factory=lambda: {"policy": "continuous"})
    use_reserve: bool = False
    models: list[str] | Literal["*"] = "*"

    @property
    def dispatch_hold_s(self) -> float:
        """How long after arrival the scheduler keeps the request off any slot (0: no gate)."""
        if self.dispatch_lead_ms is None:
            return 0.0
        return max(0.0, self.min_ttft_ms - self.dispatch_lead_ms) / 1000.0

    @property
    def ttft_target_s(self) -> float:
        return (self.ttft_target_ms or max(self.min_ttft_ms, 1000.0)) / 1000.0

    def allows(self, model: str) -> bool:
        return self.models == "*" or model in self.models


class BudgetConfig(Strict):
    usd: float = Field(gt=0)
    period: Literal["day", "month"] = "day"


class KeyConfig(Strict):
    """An API key, given in clear (usually ``${ENV_VAR}``) or as its sha256 hex digest."""

    key: str | None = Field(None, repr=False, min_length=8)
    key_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    tenant: str | None = None
    tier: str | None = None
    admin: bool = False
    rpm: int | None = Field(None, ge=1)
    tpm: int | None = Field(None, ge=1)
    budget: BudgetConfig | None = None

    @model_validator(mode="after")
    def _one_form(self) -> KeyConfig:
        if (self.key is None) == (self.key_sha256 is None):
            raise ValueError("give exactly one of 'key' or 'key_sha256'")
        if not self.admin and (self.tenant is None or self.tier is None):
            raise ValueError("a non-admin key needs a 'tenant' and a 'tier'")
        return self

    @property
    def digest(self) -> str:
        return self.key_sha256 or hashlib.sha256((self.key or "").encode()).hexdigest()

    @property
    def key_id(self) -> str:
        """A short public id for logs and usage records: never the key itself."""
        return "key_" + self.digest[:12]


class GatewayConfig(Strict):
    server: ServerConfig = ServerConfig()
    state: StateConfig = StateConfig()
    tokenizer: TokenizerConfig = TokenizerConfig()
    backends: list[BackendConfig] = Field(min_length=1)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    tiers: dict[str, TierConfig] = Field(min_length=1)
    keys: list[KeyConfig] = Field(default_factory=list)
    scheduler: SchedulerConfig = SchedulerConfig()

    def cross_reference_problems(self) -> list[Problem]:
        """Rules that span sections; each problem names its field path and value."""
        problems: list[Problem] = []
        names = [b.name for b in self.backends]
        for i, name in enumerate(names):
            if names.index(name) != i:
                problems.append((("backends", i, "name"), "duplicate backend name", name))
        served = {m for b in self.backends for m in b.models}
        for i, b in enumerate(self.backends):
            for m in b.models:
                if self.models and m not in self.models:
                    problems.append(
                        (("backends", i, "models", m), "model not declared under 'models'", m)
                    )
        for m in self.models:
            if m not in served:
                problems.append((("models", m), "no backend serves this model", m))
        for tname, tier in self.tiers.items():
            if tier.models != "*":
                for j, m in enumerate(tier.models):
                    if m not in served:
                        problems.append((("tiers", tname, "models", j), "unknown model", m))
        digests: dict[str, int] = {}
        for i, k in enumerate(self.keys):
            if k.tier is not None and k.tier not in self.tiers:
                problems.append(
                    (("keys", i, "tier"), f"unknown tier (tiers: {', '.join(self.tiers)})", k.tier)
                )
            if k.digest in digests:
                problems.append((("keys", i), f"same key as keys[{digests[k.digest]}]", k.key_id))
            digests.setdefault(k.digest, i)
        return problems

    def model_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for b in self.backends:
            for m in b.models:
                seen.setdefault(m, None)
        return list(seen)

    def model(self, name: str) -> ModelConfig:
        return self.models.get(name) or ModelConfig()
