"""The Lua scripts of ``gateway/state/lua``, registered once per client and run by EVALSHA."""

from __future__ import annotations

from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

SCRIPT_NAMES: tuple[str, ...] = (
    "rate_limit",
    "reserve_budget",
    "release_budget",
    "settle",
    "acquire_slot",
    "release_slot",
    "renew_leases",
)


def script_source(name: str) -> str:
    return (resources.files("gateway.state") / "lua" / f"{name}.lua").read_text("utf-8")


class Scripts:
    """One ``AsyncScript`` per file. Calls run EVALSHA; on NOSCRIPT (a restarted Redis) redis-py
    loads the script and retries, which is safe: NOSCRIPT means nothing ran."""

    def __init__(self, client: Redis) -> None:
        self._client = client
        self.rate_limit = client.register_script(script_source("rate_limit"))
        self.reserve_budget = client.register_script(script_source("reserve_budget"))
        self.release_budget = client.register_script(script_source("release_budget"))
        self.settle = client.register_script(script_source("settle"))
        self.acquire_slot = client.register_script(script_source("acquire_slot"))
        self.release_slot = client.register_script(script_source("release_slot"))
        self.renew_leases = client.register_script(script_source("renew_leases"))

    def all(self) -> list[AsyncScript]:
        return [getattr(self, name) for name in SCRIPT_NAMES]

    async def load(self) -> None:
        """SCRIPT LOAD every script (at connect, and after Redis comes back empty)."""
        for script in self.all():
            script.sha = await self._client.script_load(script.script)
