"""Keys stay where they belong: the client's key never reaches the engine, the backend's key
does, and neither appears in a log line or an error body."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from aiohttp import web
from multidict import CIMultiDict

from tests.fixtures.stack import KEYS, MODEL, gateway_stack
from tests.gateway.integration.test_upstream_failures import _free_port

HELLO = [{"role": "user", "content": "Hello"}]
BACKEND_KEY = "sk-backend-0123456789"


class RecordingEngine:
    """A minimal OpenAI-compatible engine that records the headers it was sent."""

    def __init__(self) -> None:
        self.seen: list[CIMultiDict[str]] = []
        self.bodies: list[dict[str, Any]] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(request.headers.copy())
        body = await request.json()
        self.bodies.append(body)
        usage = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
        if body.get("stream"):
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            chunk = {
                "id": "c",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": "hi"},
                        "finish_reason": "stop",
                    }
                ],
            }
            await resp.write(b": ping\n\n")  # a comment line the relay must survive
            await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            tail = {**chunk, "choices": [], "usage": usage}
            await resp.write(b"data: " + json.dumps(tail).encode() + b"\n\ndata: [DONE]\n\n")
            return resp
        return web.json_response(
            {
                "id": "c",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "hi"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            }
        )

    async def _health(self, request: web.Request) -> web.Response:
        self.seen.append(request.headers.copy())
        return web.Response(text="ok")

    async def __aenter__(self) -> RecordingEngine:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/health", self._health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
async def engine() -> AsyncIterator[RecordingEngine]:
    async with RecordingEngine() as e:
        yield e


def _only(engine_port: int, api_key: str | None):  # type: ignore[no-untyped-def]
    """The recording engine as the only backend."""

    def patch(tree: dict[str, Any]) -> None:
        b: dict[str, Any] = {
            "name": "recorder",
            "url": f"http://127.0.0.1:{engine_port}",
            "models": {MODEL: "engine-model"},
        }
        if api_key is not None:
            b["api_key"] = api_key
        tree["backends"] = [b]

    return patch


@pytest.mark.parametrize("backend_key", [None, "${ENGINE_KEY}"])
async def test_client_key_never_forwarded_backend_key_is(
    engine: RecordingEngine, backend_key: str | None
) -> None:
    env = {"ENGINE_KEY": BACKEND_KEY}
    async with gateway_stack(n_sims=0, patch=_only(engine.port, backend_key), env=env) as stack:
        client = stack.client(KEYS["fast"])
        whole = await client.chat.completions.create(
            model=MODEL, messages=HELLO, max_tokens=1, extra_body={"top_k": 20, "min_p": 0.1}
        )
        assert whole.choices[0].message.content == "hi"
        chunks = [
            c
            async for c in await client.chat.completions.create(
                model=MODEL, messages=HELLO, max_tokens=1, stream=True
            )
        ]
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hi"
        generations = [h for h in engine.seen if "X-Request-Id" in h]
        assert len(generations) == 2
        for headers in engine.seen:
            assert KEYS["fast"] not in str(list(headers.items()))
            if backend_key is None:
                assert "Authorization" not in headers
            else:
                assert headers["Authorization"] == f"Bearer {BACKEND_KEY}"
        assert all(h["X-Request-Id"].startswith("req_") for h in generations)
        # The engine gets its own model name, engine extensions untouched, usage always asked.
        first, streamed = engine.bodies
        assert first["model"] == "engine-model"
        assert first["top_k"] == 20 and first["min_p"] == 0.1
        assert streamed["stream_options"] == {"include_usage": True}


async def test_sim_with_backend_key_serves_through_the_gateway() -> None:
    """A SimServer that demands a key (vLLM's --api-key) gets it, from ``${ENV}`` substitution."""

    def keyed(tree: dict[str, Any]) -> None:
        tree["backends"][0]["api_key"] = "${ENGINE_KEY}"

    async with gateway_stack(
        n_sims=1, time_scale=200, api_key=BACKEND_KEY, env={"ENGINE_KEY": BACKEND_KEY}, patch=keyed
    ) as stack:
        assert stack.backend("sim0").healthy  # the health probe sends the key too
        ok = await stack.client().chat.completions.create(model=MODEL, messages=HELLO, max_tokens=2)
        assert ok.choices[0].message.content


async def test_wrong_backend_key_is_502_without_leaking_it() -> None:
    def wrong(tree: dict[str, Any]) -> None:
        tree["backends"][0]["api_key"] = "sk-wrong-backend-key"
        tree["backends"][0]["health"] = {"interval_s": 60}

    async with gateway_stack(n_sims=1, time_scale=200, api_key=BACKEND_KEY, patch=wrong) as stack:
        stack.backend("sim0").set_health(True)  # /health needs no key on the sim
        with pytest.raises(openai.APIStatusError) as err:
            await stack.client().chat.completions.create(model=MODEL, messages=HELLO, max_tokens=2)
        assert err.value.status_code == 502  # not 401: the client's key was fine
        assert err.value.body["code"] == "upstream_misconfigured"
        assert "sk-wrong-backend-key" not in err.value.response.text
        assert BACKEND_KEY not in err.value.response.text


async def test_no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bad_key = "sk-bad-key-not-configured"
    dead_port = _free_port()

    def logging_on(tree: dict[str, Any]) -> None:
        tree["server"]["access_log"] = True
        tree["backends"][0]["api_key"] = "${ENGINE_KEY}"
        dead = dict(tree["backends"][0], name="zz-dead", url=f"http://127.0.0.1:{dead_port}")
        tree["backends"].append(dead)  # its failures get logged too

    async with gateway_stack(
        n_sims=1,
        time_scale=200,
        api_key=BACKEND_KEY,
        env={"ENGINE_KEY": BACKEND_KEY},
        patch=logging_on,
    ) as stack:
        with pytest.raises(openai.AuthenticationError):
            await stack.client(bad_key).chat.completions.create(model=MODEL, messages=HELLO)
        with pytest.raises(openai.AuthenticationError):
            await stack.client(bad_key).models.list()
        client = stack.client(KEYS["fast"])
        await client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=2)
        assert [
            c
            async for c in await client.chat.completions.create(
                model=MODEL, messages=HELLO, max_tokens=2, stream=True
            )
        ]
        with pytest.raises(openai.BadRequestError):
            await client.chat.completions.create(
                model=MODEL, messages=[{"role": "robot", "content": "x"}]
            )
        stack.backend("zz-dead").set_health(True)
        stack.sims[0].fail_next(1, 500)
        with pytest.raises(openai.APIStatusError):
            await client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=2)
        await stack.settle()
    access = [r for r in caplog.records if r.name == "tokengate.access"]
    assert len(access) >= 5  # every completion request logged ...
    logged = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    for secret in (bad_key, KEYS["fast"], BACKEND_KEY):
        assert secret not in logged  # ... and no key in any line
    lines = [json.loads(r.getMessage()) for r in access]
    assert any(line["status"] == 401 for line in lines)
    assert any(line["status"] == 502 and line["outcome"] == "upstream_error" for line in lines)
