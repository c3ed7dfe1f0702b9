"""Config loading: env substitution, every problem reported with its field path, demo validity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.config.demo import demo_config
from gateway.config.loader import ConfigError, load_config, parse_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def minimal(**overrides: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "backends": [{"name": "a", "url": "http://127.0.0.1:9", "models": ["m"]}],
        "tiers": {"std": {}},
        "keys": [{"key": "sk-test-123456", "tenant": "t", "tier": "std"}],
    }
    cfg.update(overrides)
    return cfg


def problems(data: Any, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, env=env or {})
    return info.value.lines()


def test_minimal_config_gets_defaults() -> None:
    cfg = parse_config(minimal(), env={})
    assert cfg.model_names() == ["m"]
    assert cfg.backends[0].models == {"m": "m"}
    assert cfg.model("m").max_context == 131072
    assert cfg.tiers["std"].batch == {"policy": "continuous"}


def test_env_substitution_and_defaults() -> None:
    data = minimal(
        backends=[{"name": "a", "url": "${URL:-http://x:1}", "models": ["m"], "api_key": "${K}"}]
    )
    cfg = parse_config(data, env={"K": "secret-key"})
    assert cfg.backends[0].url == "http://x:1"
    assert cfg.backends[0].api_key == "secret-key"
    assert problems(data) == ["backends[0].api_key: environment variable K is not set"]


def test_an_unset_variable_is_one_problem_not_two() -> None:
    """The empty value it leaves would also fail ``min_length``: say only what is wrong."""
    data = minimal(keys=[{"key": "${TOKEN}", "tenant": "t", "tier": "std"}])
    assert problems(data) == ["keys[0].key: environment variable TOKEN is not set"]


def test_every_problem_is_reported_with_path_and_value() -> None:
    data = minimal(
        backends=[
            {"name": "a", "url": "ftp://nope", "models": ["m"], "capacity": 0, "reserve": 1.5}
        ],
        tiers={"std": {"min_ttft_ms": -1, "batch": {"policy": "wibble"}}},
    )
    lines = problems(data)
    assert any(line.startswith("backends[0].url:") and "'ftp://nope'" in line for line in lines)
    assert any(line.startswith("backends[0].capacity:") and "(value: 0)" in line for line in lines)
    assert any(line.startswith("backends[0].reserve:") and "(value: 1.5)" in line for line in lines)
    assert any(line.startswith("tiers.std.min_ttft_ms:") for line in lines)


def test_cross_references_name_the_field() -> None:
    data = minimal(
        keys=[{"key": "sk-test-123456", "tenant": "t", "tier": "gold"}],
        models={"m": {}, "ghost": {}},
    )
    lines = problems(data)
    assert "keys[0].tier: unknown tier (tiers: std) (value: 'gold')" in lines
    assert "models.ghost: no backend serves this model (value: 'ghost')" in lines


def test_unknown_policy_names_field_and_valid_names() -> None:
    lines = problems(minimal(tiers={"std": {"batch": {"policy": "wibble"}}}))
    assert len(lines) == 1
    assert lines[0].startswith("tiers.std.batch")
    assert "wibble" in lines[0] and "continuous" in lines[0] and "window" in lines[0]


def test_secrets_are_masked_in_errors() -> None:
    data = minimal(keys=[{"key": "short", "tenant": "t", "tier": "std"}])
    (line,) = problems(data)
    assert line.startswith("keys[0].key:") and "short" not in line and "***" in line


def test_a_key_needs_exactly_one_form() -> None:
    lines = problems(minimal(keys=[{"tenant": "t", "tier": "std"}]))
    assert any("exactly one of 'key' or 'key_sha256'" in line for line in lines)


def test_unknown_fields_are_errors() -> None:
    lines = problems(minimal(server={"prot": 1}))
    assert lines == ["server.prot: Extra inputs are not permitted (value: 1)"]


def test_examples_and_demo_validate() -> None:
    env = {
        "TOKENGATE_KEY": "sk-example-1234",
        "ACME_KEY": "sk-acme-12345",
        "RESEARCH_KEY": "sk-lab-123456",
        "ADMIN_KEY": "sk-admin-1234",
    }
    for path in sorted(EXAMPLES.glob("*.yaml")):
        load_config(path, env=env)
    demo = demo_config(["http://127.0.0.1:1", "http://127.0.0.1:2"])
    assert set(demo.tiers) == {"fast", "economy", "internal"}
    assert [b.general_slots for b in demo.backends] == [48, 48]


def test_file_errors_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("tiers: [\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "missing.yaml")
