"""``tokengate sim``: placeholder until the simulator lands."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("sim", help="run a simulated GPU inference server")
    p.set_defaults(func=lambda args: print("not yet") or 1)
