"""The per-request state every pipeline step reads and writes: one typed object, no dict bags."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.config.schema import KeyConfig, TierConfig
from gateway.metering.record import RecordStatus, UsageSource
from gateway.scheduling.scheduler import Grant
from policies.ticket import Ticket

Endpoint = Literal["chat", "completions"]


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex


@dataclass(slots=True)
class RequestContext:
    endpoint: Endpoint
    request_id: str = field(default_factory=new_request_id)
    arrival: float = field(default_factory=time.monotonic)
    arrival_wall: float = field(default_factory=time.time)
    # who
    key: KeyConfig | None = None
    tier_name: str = ""
    tier: TierConfig | None = None
    # what
    model: str = ""
    stream: bool = False
    include_usage: bool = False
    payload: dict[str, Any] = field(default_factory=dict)  # what goes to the engine
    prompt_tokens: int = 0
    max_tokens: int = 0
    truncated_messages: int = 0
    # where and when
    ticket: Ticket | None = None
    grant: Grant | None = None
    backend: str | None = None
    queue_s: float = 0.0
    dispatched_at: float | None = None
    first_token_at: float | None = None
    finished_at: float | None = None
    # what came back
    status: int = 200
    chunks_with_tokens: int = 0  # streamed output chunks seen from the engine
    engine_usage: dict[str, Any] | None = None
    outcome: RecordStatus = "ok"
    error_type: str | None = None
    budget_reserved_nano: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)

    @property
    def tenant(self) -> str:
        return (self.key.tenant or "") if self.key else ""

    @property
    def key_id(self) -> str:
        return self.key.key_id if self.key else ""

    def usage_tokens(self) -> tuple[int, int, int, UsageSource]:
        """(prompt, cached, completion, source): the engine's numbers when it sent them."""
        u = self.engine_usage
        if u is not None:
            details = u.get("prompt_tokens_details") or {}
            cached = int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0
            return (
                int(u.get("prompt_tokens") or 0),
                cached,
                int(u.get("completion_tokens") or 0),
                "engine",
            )
        if self.grant is None:
            return 0, 0, 0, "counted"
        return self.prompt_tokens, 0, self.chunks_with_tokens, "counted"
