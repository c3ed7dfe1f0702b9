"""``tokengate serve`` and ``tokengate check-config``: placeholder."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the gateway")
    p.set_defaults(func=lambda args: print("not yet") or 1)
