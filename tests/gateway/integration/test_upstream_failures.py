"""Upstream failures: 502/503/504 in OpenAI's shape, retries before the first byte, failover.

The least_loaded router breaks ties by name, so with every backend idle ``sim0`` is tried
first: that makes "the first attempt fails, the retry succeeds" deterministic.
"""

from __future__ import annotations

import socket
from typing import Any

import openai
import pytest

from tests.fixtures.stack import MODEL, Stack, gateway_stack

HELLO = [{"role": "user", "content": "Hello"}]


def _assert_no_internals(stack: Stack, body: Any) -> None:
    text = str(body)
    assert "127.0.0.1" not in text and "http://" not in text and "localhost" not in text
    for sim in stack.sims:
        assert str(sim.port) not in text
    for b in stack.gateway.config.backends:
        if b.api_key:
            assert b.api_key not in text


def _error(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def _passive_health(tree: dict[str, Any]) -> None:
    """Probes every minute: only requests mark a backend down (the tests drive probes)."""
    for b in tree["backends"]:
        b["health"] = {"interval_s": 60}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_5xx_before_first_byte_is_retried_on_another_backend() -> None:
    async with gateway_stack(n_sims=2, time_scale=200) as stack:
        client = stack.client()
        for stream in (False, True):
            await stack.settle()
            stack.sims[0].fail_next(1, 500)
            raw = await client.chat.completions.with_raw_response.create(
                model=MODEL, messages=HELLO, max_tokens=3, stream=stream
            )
            assert raw.headers["x-tokengate-backend"] == "sim1"
            parsed = raw.parse()
            if stream:
                text = "".join(
                    [c.choices[0].delta.content or "" async for c in parsed if c.choices]
                )
            else:
                text = parsed.choices[0].message.content
            assert text
            assert stack.sims[0].faults.pending == 0


@pytest.mark.parametrize(("engine_status", "client_status"), [(500, 502), (503, 503), (504, 504)])
async def test_every_backend_failing_gives_the_engines_error(
    engine_status: int, client_status: int
) -> None:
    """The sims want a backend key (given through ``${SIM_KEY}``): it must not leak either."""
    env = {"SIM_KEY": "sk-backend-secret"}

    def keyed(tree: dict[str, Any]) -> None:
        for b in tree["backends"]:
            b["api_key"] = "${SIM_KEY}"

    async with gateway_stack(
        n_sims=2, time_scale=200, api_key="sk-backend-secret", env=env, patch=keyed
    ) as stack:
        client = stack.client()
        for sim in stack.sims:
            sim.fail_next(1, engine_status)
        with pytest.raises(openai.APIStatusError) as err:
            await client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=3)
        assert err.value.status_code == client_status
        e = _error(err.value)
        assert e["message"] == f"simulated failure (HTTP {engine_status})"  # the engine's words
        assert e["code"] is None or isinstance(e["code"], str)  # vLLM's integer code normalised
        assert err.value.response.headers["x-request-id"]
        _assert_no_internals(stack, err.value.response.text)
        assert all(sim.faults.pending == 0 for sim in stack.sims)  # both were tried
        # and the gateway serves on
        ok = await client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=3)
        assert ok.choices[0].message.content


async def test_killed_backend_is_502_then_503_then_serves_after_restart() -> None:
    async with gateway_stack(n_sims=1, time_scale=200, patch=_passive_health) as stack:
        client = stack.client()
        sim = stack.sims[0]
        await sim.kill()
        with pytest.raises(openai.APIStatusError) as err:
            await client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=3)
        assert err.value.status_code == 502
        assert _error(err.value)["code"] == "upstream_unavailable"
        _assert_no_internals(stack, err.value.response.text)
        assert not stack.backend("sim0").healthy  # marked down by the refused connection
        with pytest.raises(openai.APIStatusError) as err:
            await client.chat.completions.create(
                model=MODEL, messages=HELLO, max_tokens=3, stream=True
            )
        assert err.value.status_code == 503
        assert _error(err.value)["code"] == "no_backend"
        assert int(err.value.response.headers["retry-after"]) >= 1
        await sim.restart()
        await stack.gateway.health.probe_all()
        ok = await client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=3)
        assert ok.choices[0].message.content


async def test_refused_backend_fails_over_to_the_live_one() -> None:
    dead_port = _free_port()

    def add_dead(tree: dict[str, Any]) -> None:
        _passive_health(tree)
        dead = dict(tree["backends"][0], name="a-dead", url=f"http://127.0.0.1:{dead_port}")
        tree["backends"].insert(0, dead)  # "a-dead" sorts first: tried first on a tie

    async with gateway_stack(n_sims=1, time_scale=200, patch=add_dead) as stack:
        dead = stack.backend("a-dead")
        dead.set_health(True)  # pretend a probe passed just before it died
        client = stack.client()
        for stream in (False, True, False):
            raw = await client.chat.completions.with_raw_response.create(
                model=MODEL, messages=HELLO, max_tokens=3, stream=stream
            )
            assert raw.headers["x-tokengate-backend"] == "sim0"
            if stream:
                assert [c async for c in raw.parse()]
        assert not dead.healthy


async def test_slow_engine_is_504_before_the_first_byte() -> None:
    def impatient(tree: dict[str, Any]) -> None:
        for b in tree["backends"]:
            b["timeouts"] = {"between_chunks_s": 0.3, "response_s": 0.3}

    # time_scale 0.001: the simulated engine runs a thousand times slower than real time.
    async with gateway_stack(n_sims=1, time_scale=0.001, patch=impatient) as stack:
        client = stack.client()
        for stream in (True, False):
            with pytest.raises(openai.APIStatusError) as err:
                await client.chat.completions.create(
                    model=MODEL, messages=HELLO, max_tokens=3, stream=stream
                )
            assert err.value.status_code == 504
            assert _error(err.value)["code"] == "upstream_timeout"
            _assert_no_internals(stack, err.value.response.text)
        await stack.sims[0].wait_for(lambda: stack.sims[0].engine.num_running == 0)
        assert stack.backend("sim0").healthy  # slow is not down
