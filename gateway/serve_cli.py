"""``tokengate serve`` and ``tokengate check-config``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from gateway.config.loader import ConfigError, load_config


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="run the gateway",
        description="Run the gateway from a config file, or the built-in demo.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", type=Path, help="the gateway YAML file")
    src.add_argument(
        "--demo", action="store_true", help="no file: two simulated H100s, three tiers, demo keys"
    )
    p.add_argument("--host", help="listen address (default: the config's, or 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen port (default: the config's, or 8080)")
    p.add_argument(
        "--demo-time-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="run the demo's simulated GPUs X times faster than real time",
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(func=_serve)

    c = sub.add_parser("check-config", help="validate a config file and print every problem")
    c.add_argument("file", type=Path)
    c.set_defaults(func=_check)


def configure_logging(level: str) -> None:
    """Access log lines (JSON) go to stdout; everything else to stderr."""
    root = logging.getLogger()
    root.setLevel(level)
    err = logging.StreamHandler(sys.stderr)
    err.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    err.addFilter(lambda r: r.name != "tokengate.access")
    out = logging.StreamHandler(sys.stdout)
    out.setFormatter(logging.Formatter("%(message)s"))
    out.addFilter(lambda r: r.name == "tokengate.access")
    root.handlers = [err, out]


def _check(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.file)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    print(
        f"{args.file}: OK — {len(cfg.backends)} backend(s), {len(cfg.model_names())} model(s), "
        f"{len(cfg.tiers)} tier(s), {len(cfg.keys)} key(s)"
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvloop

    configure_logging(args.log_level)
    if args.demo:
        from gateway.demo import run_demo

        return uvloop.run(
            run_demo(
                "127.0.0.1" if args.host is None else args.host,
                8080 if args.port is None else args.port,
                args.demo_time_scale,
            )
        )
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    return uvloop.run(_run_file(args.config, cfg, args.host, args.port))


async def _run_file(path: Path, cfg: Any, host: str | None, port: int | None) -> int:
    from gateway.server import serve_forever, start_gateway

    running = await start_gateway(cfg, host, port)
    running.gateway.config_path = path  # what SIGHUP and POST /admin/reload re-read
    logging.getLogger("tokengate").info("tokengate listening on %s (config %s)", running.url, path)

    def reload() -> None:
        running.gateway.spawn(running.gateway.reload_from())  # spawn keeps the task referenced

    await serve_forever(running, reload)
    return 0
