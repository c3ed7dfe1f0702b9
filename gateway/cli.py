"""The ``tokengate`` command: one entry point, a subcommand per job.

Each subcommand lives next to what it runs and adds itself through a
``register(subparsers)`` function; this module only assembles them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    from gateway import serve_cli
    from loadtest import cli as loadtest_cli
    from loadtest.compare import cli as compare_cli
    from loadtest.sim import cli as sim_cli

    parser = argparse.ArgumentParser(
        prog="tokengate",
        description="OpenAI-compatible batching gateway for GPU inference servers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_cli.register(sub)
    sim_cli.register(sub)
    loadtest_cli.register(sub)
    compare_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
