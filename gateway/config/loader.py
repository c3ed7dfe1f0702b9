"""Read ``gateway.yaml``: substitute ``${ENV}`` secrets, validate, and report every problem.

Errors never stop at the first: ``check-config`` prints them all, each with its
field path and the offending value (secrets masked).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gateway.config.schema import GatewayConfig, Problem

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SECRET_FIELDS = {"key", "api_key", "redis_url", "password"}


class ConfigError(Exception):
    """A config that cannot run, with every problem found."""

    def __init__(self, problems: list[Problem], source: str = "config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(self.render())

    def lines(self) -> list[str]:
        out = []
        for path, message, value in self.problems:
            where = format_path(path) or "(top level)"
            shown = "" if value is _MISSING else f" (value: {_show(path, value)})"
            out.append(f"{where}: {message}{shown}")
        return out

    def render(self) -> str:
        n = len(self.problems)
        head = f"{self.source}: {n} problem{'s' if n != 1 else ''}"
        return "\n".join([head, *("  " + line for line in self.lines())])


_MISSING = object()


def format_path(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _show(path: tuple[str | int, ...], value: Any) -> str:
    if any(str(p) in _SECRET_FIELDS for p in path) and isinstance(value, str):
        return "'***'"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def substitute_env(
    node: Any,
    env: Mapping[str, str],
    path: tuple[str | int, ...] = (),
    problems: list[Problem] | None = None,
) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string; unset variables become problems."""
    problems = problems if problems is not None else []
    if isinstance(node, dict):
        return {k: substitute_env(v, env, (*path, str(k)), problems) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute_env(v, env, (*path, i), problems) for i, v in enumerate(node)]
    if isinstance(node, str) and "${" in node:

        def repl(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            problems.append((path, f"environment variable {name} is not set", _MISSING))
            return ""

        return _ENV.sub(repl, node)
    return node


def parse_config(
    data: Any,
    *,
    env: Mapping[str, str] | None = None,
    source: str = "config",
    extra_checks: Callable[[GatewayConfig], list[Problem]] | None = None,
) -> GatewayConfig:
    """Validate a parsed YAML tree into a GatewayConfig, or raise ConfigError with every problem."""
    if not isinstance(data, dict):
        raise ConfigError([((), "the config must be a mapping of sections", data)], source)
    problems: list[Problem] = []
    data = substitute_env(data, os.environ if env is None else env, (), problems)
    try:
        cfg = GatewayConfig.model_validate(data)
    except ValidationError as exc:
        # A field whose variable is unset already has its problem; its validation error is noise.
        unset = {tuple(map(str, path)) for path, _, _ in problems}
        for err in exc.errors():
            if tuple(map(str, err["loc"])) in unset:
                continue
            value = err.get("input", _MISSING) if err["type"] != "missing" else _MISSING
            if isinstance(value, dict | list) and err["type"] != "extra_forbidden":
                value = _MISSING  # the message names the field; a whole section is noise
            problems.append((tuple(err["loc"]), err["msg"], value))
        raise ConfigError(problems, source) from None
    problems += cfg.cross_reference_problems()
    from gateway.config.policy_check import policy_problems

    problems += policy_problems(cfg)
    if extra_checks is not None:
        problems += extra_checks(cfg)
    if problems:
        raise ConfigError(problems, source)
    return cfg


def load_config(path: str | Path, *, env: Mapping[str, str] | None = None) -> GatewayConfig:
    source = str(path)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(
            [((), f"cannot read the file: {exc.strerror}", _MISSING)], source
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            [((), f"not valid YAML{where}: {getattr(exc, 'problem', exc)}", _MISSING)], source
        ) from None
    return parse_config(data or {}, env=env, source=source)
