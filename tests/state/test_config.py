"""The state config: validation, password masking, and the factory."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.state.config import StateConfig, mask_url, store_from_config
from gateway.state.memory import MemoryStore
from gateway.state.redis_store import RedisStore
from tests.fixtures.redis_server import free_port


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"),
        (
            "rediss://app:p%40ss@cache.example.com:6380/2",
            "rediss://app:***@cache.example.com:6380/2",
        ),
        ("redis://[::1]:6379/0", "redis://[::1]:6379/0"),
        ("redis://user:pw@[::1]:6379", "redis://user:***@[::1]:6379"),
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
    ],
)
def test_mask_url_hides_only_the_password(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_repr_and_str_never_show_the_password() -> None:
    config = StateConfig(kind="redis", redis_url="redis://:hunter2@redis:6379/0")
    for text in (repr(config), str(config)):
        assert "hunter2" not in text and "redis://:***@redis:6379/0" in text
    assert config.redis_url.endswith("hunter2@redis:6379/0")  # still usable


def test_unknown_fields_and_bad_values_are_rejected() -> None:
    with pytest.raises(ValidationError):
        StateConfig(kind="etcd")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        StateConfig(replicas=0)
    with pytest.raises(ValidationError):
        StateConfig(namespace="a{b}")
    with pytest.raises(ValidationError):
        StateConfig(colour="red")  # type: ignore[call-arg]


def test_factory_builds_the_configured_store(tmp_path: Path) -> None:
    assert isinstance(store_from_config(StateConfig()), MemoryStore)
    redis_config = StateConfig(kind="redis", spool_path=tmp_path / "u.spool")
    assert isinstance(store_from_config(redis_config), RedisStore)


async def test_logs_never_show_the_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"  # nothing listens there
    config = StateConfig(kind="redis", redis_url=url, spool_path=tmp_path / "u.spool")
    store = store_from_config(config)
    with caplog.at_level(logging.DEBUG, logger="gateway.state"):
        await store.start()
        assert store.status().state == "degraded"
        await store.close()
    assert caplog.records and "hunter2" not in caplog.text
    assert "hunter2" not in (store.status().last_error or "")
