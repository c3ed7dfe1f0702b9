"""Admission: rate limits per key and budgets per tenant (placeholder until the Store lands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.pipeline.context import RequestContext

if TYPE_CHECKING:
    from gateway.runtime import Gateway


class Admission:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    async def admit(self, ctx: RequestContext, n: int = 1) -> None:
        return None
