"""Every Redis key and channel the store uses, under one configurable namespace.

Keys one script touches share a Redis Cluster hash tag: ``{tenant}`` for budgets and usage,
``{key_id}`` for rate limits, ``{backend}`` for slot leases. Braces inside a name are escaped
so a tenant called ``a}b`` cannot move its keys to another tenant's slot.
"""

from __future__ import annotations


def hash_tag(name: str) -> str:
    """``{name}`` with ``%``, ``{`` and ``}`` percent-escaped: one tag per name, never shared."""
    escaped = name.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")
    return "{" + escaped + "}"


class KeySpace:
    """Key names for one namespace (tests use a fresh namespace each)."""

    def __init__(self, namespace: str) -> None:
        if any(c in namespace for c in "{} \n"):
            raise ValueError(f"namespace must not contain braces or whitespace: {namespace!r}")
        self.namespace = namespace

    # rate limits, per API key
    def rate(self, key_id: str) -> tuple[str, str]:
        base = f"{self.namespace}:rl:{hash_tag(key_id)}"
        return f"{base}:req", f"{base}:tok"

    # budgets and usage, per tenant
    def _tenant(self, tenant: str) -> str:
        return f"{self.namespace}:t:{hash_tag(tenant)}"

    def spent(self, tenant: str, period_id: str) -> str:
        return f"{self._tenant(tenant)}:spent:{period_id}"

    def reservations(self, tenant: str) -> tuple[str, str, str]:
        """(amounts hash, expiries zset, total string)."""
        base = f"{self._tenant(tenant)}:resv"
        return f"{base}:amt", f"{base}:exp", f"{base}:total"

    def settled(self, tenant: str, request_id: str) -> str:
        return f"{self._tenant(tenant)}:settled:{request_id}"

    def hour_usage(self, tenant: str, hour: int) -> str:
        return f"{self._tenant(tenant)}:agg:h:{hour}"

    def day_usage(self, tenant: str, day: int) -> str:
        return f"{self._tenant(tenant)}:agg:d:{day}"

    def usage_hours(self, tenant: str) -> str:
        return f"{self._tenant(tenant)}:hours"

    def hour_records(self, tenant: str, hour: int) -> str:
        return f"{self._tenant(tenant)}:rec:{hour}"

    def events(self, tenant: str) -> str:
        """The tenant's usage stream (XADD per settled record) for external consumers."""
        return f"{self._tenant(tenant)}:events"

    def tenants(self) -> str:
        """Set of tenants with usage: the one key outside any tenant's tag."""
        return f"{self.namespace}:tenants"

    # backend slots, per backend
    def leases(self, backend: str) -> tuple[str, str]:
        """(all leases zset, general leases zset)."""
        base = f"{self.namespace}:slot:{hash_tag(backend)}"
        return f"{base}:all", f"{base}:gen"

    def slot_channel(self) -> str:
        return f"{self.namespace}:slot-released"
