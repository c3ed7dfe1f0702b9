"""``tokengate loadtest``: placeholder until the load tester lands."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("loadtest", help="load-test an OpenAI-compatible URL")
    p.set_defaults(func=lambda args: print("not yet") or 1)
