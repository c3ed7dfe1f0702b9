"""Hot reload: ``POST /admin/reload`` and SIGHUP re-read the file; nothing queued or running drops.

The in-process stack runs from a YAML file (``config_dir``); the SIGHUP test runs
``tokengate serve --config`` as a subprocess in front of an in-process simulator.
"""

from __future__ import annotations

import asyncio
import copy
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
import yaml

from loadtest.sim.server import SimServer
from tests.fixtures.stack import (
    ADMIN_KEY,
    ENGINE_MODEL,
    KEYS,
    MODEL,
    Stack,
    base_tree,
    gateway_stack,
)
from tests.gateway.tiers.measure import streamed

ROOT = Path(__file__).resolve().parents[3]
NEW_KEY = "sk-test-economy-rotated"


async def _reload(stack: Stack, key: str = ADMIN_KEY) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(stack.url + "/admin/reload", headers={"Authorization": f"Bearer {key}"}) as r,
    ):
        return r.status, await r.json()


def _rotated(tree: dict[str, Any]) -> dict[str, Any]:
    """The economy key replaced by a new one, and economy's floor raised to 600 ms."""
    new = copy.deepcopy(tree)
    for k in new["keys"]:
        if k.get("key") == KEYS["economy"]:
            k["key"] = NEW_KEY
    new["tiers"]["economy"]["min_ttft_ms"] = 600
    return new


async def test_reload_swaps_keys_and_floors(tmp_path: Path) -> None:
    async with gateway_stack(config_dir=tmp_path) as stack:
        before = await streamed(stack.client(KEYS["economy"]))
        assert before.ttft >= 0.3
        stack.write_config(_rotated(stack.tree))
        status, body = await _reload(stack)
        assert status == 200, body
        assert body["reloaded"] is True and body["tiers"] == ["economy", "fast", "internal"]

        with pytest.raises(openai.AuthenticationError):
            await stack.client(KEYS["economy"]).chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=2
            )
        after = await asyncio.gather(*(streamed(stack.client(NEW_KEY)) for _ in range(4)))
        assert all(r.ttft >= 0.6 for r in after), [r.ttft for r in after]
        assert (await streamed(stack.client(KEYS["fast"]))).text  # untouched keys still work


async def test_streams_in_flight_and_queued_finish_across_a_reload(tmp_path: Path) -> None:
    def paced(tree: dict[str, Any]) -> None:
        tree["tiers"]["fast"]["max_output_tokens_per_s"] = 40  # ~0.5 s streams
        tree["tiers"]["economy"]["batch"] = {
            "policy": "window",
            "max_wait_ms": 60_000,
            "min_batch": 50,
        }

    async with gateway_stack(config_dir=tmp_path, patch=paced) as stack:
        sched = stack.gateway.schedulers[MODEL]
        running = [
            asyncio.ensure_future(streamed(stack.client(KEYS["fast"]), max_tokens=20))
            for _ in range(6)
        ]
        held = [
            asyncio.ensure_future(streamed(stack.client(KEYS["economy"]), max_tokens=8))
            for _ in range(3)
        ]
        await sched.wait_for(
            lambda: (
                sched.snapshot()["held"].get("economy") == 3
                and sum(b.inflight for b in stack.gateway.backends.values()) == 6
            )
        )
        # new policies too: the queue changes from priority to fair; the held group is released
        new = copy.deepcopy(stack.tree)
        new["scheduler"]["queue"] = {"policy": "fair"}
        new["tiers"]["economy"]["batch"] = {"policy": "continuous"}
        del new["tiers"]["fast"]["max_output_tokens_per_s"]
        stack.write_config(new)
        status, body = await _reload(stack)
        assert status == 200, body
        done = await asyncio.gather(*running, *held)
        assert [r.completion_tokens for r in done] == [20] * 6 + [8] * 3
        # the streams that started under the old config kept its speed cap (the new has none)
        assert all(r.content_at[-1] - r.ttft >= 19 / 40 for r in done[:6])


async def test_a_broken_config_is_refused_with_every_problem_and_the_old_one_serves(
    tmp_path: Path,
) -> None:
    async with gateway_stack(config_dir=tmp_path) as stack:
        broken = copy.deepcopy(stack.tree)
        broken["tiers"]["economy"]["min_ttft_ms"] = -5
        broken["keys"][0]["tier"] = "gold"
        stack.write_config(broken)
        status, body = await _reload(stack)
        assert status == 400
        err = body["error"]
        assert set(err) == {"message", "type", "param", "code"}
        assert err["type"] == "invalid_request_error" and err["code"] == "invalid_config"
        assert any(p.startswith("tiers.economy.min_ttft_ms") for p in body["problems"]), body
        assert "tiers.economy.min_ttft_ms" in err["message"]

        # well-typed but needs a restart: another backend
        grown = copy.deepcopy(stack.tree)
        grown["backends"].append({**grown["backends"][0], "name": "sim9"})
        stack.write_config(grown)
        status, body = await _reload(stack)
        assert status == 400 and any(p.startswith("backends") for p in body["problems"])

        stack.write_config(_rotated(stack.tree))
        status, body = await _reload(stack, KEYS["fast"])  # only the admin key may reload
        assert status == 403

        for key in KEYS.values():  # the running config still serves every old key
            assert (await streamed(stack.client(key), max_tokens=2)).text


async def test_a_gateway_without_a_config_file_says_so() -> None:
    async with gateway_stack(n_sims=1) as stack:
        status, body = await _reload(stack)
        assert status == 409 and body["error"]["code"] == "no_config_file"


async def _line_matching(stream: asyncio.StreamReader, pattern: bytes) -> re.Match[bytes]:
    while True:
        line = await asyncio.wait_for(stream.readline(), 60)
        assert line, f"the gateway exited before logging {pattern!r}"
        if m := re.search(pattern, line):
            return m


async def test_sighup_reloads_a_served_config_file(tmp_path: Path) -> None:
    async with SimServer(model=ENGINE_MODEL, time_scale=50) as sim:
        tree = base_tree([sim.url])
        path = tmp_path / "gateway.yaml"
        path.write_text(yaml.safe_dump(tree))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "serve", "--config", str(path), "--port", "0",
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stderr is not None
        try:
            m = await _line_matching(proc.stderr, rb"listening on (http://[\d.]+:\d+)")
            url = m.group(1).decode()

            def client(key: str) -> openai.AsyncOpenAI:
                return openai.AsyncOpenAI(base_url=url + "/v1", api_key=key, max_retries=0)

            msgs: Any = [{"role": "user", "content": "Hi"}]
            old = client(KEYS["economy"])
            assert (
                await old.chat.completions.create(model=MODEL, messages=msgs, max_tokens=2)
            ).choices

            path.write_text(yaml.safe_dump(_rotated(tree)))
            proc.send_signal(signal.SIGHUP)
            await _line_matching(proc.stderr, rb"reloaded ")
            with pytest.raises(openai.AuthenticationError):
                await old.chat.completions.create(model=MODEL, messages=msgs, max_tokens=2)
            new = client(NEW_KEY)
            assert (
                await new.chat.completions.create(model=MODEL, messages=msgs, max_tokens=2)
            ).choices

            path.write_text("tiers: [not, a, mapping]\n")
            proc.send_signal(signal.SIGHUP)
            await _line_matching(proc.stderr, rb"reload refused")
            assert (
                await new.chat.completions.create(model=MODEL, messages=msgs, max_tokens=2)
            ).choices
            await old.close()
            await new.close()
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 60) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
