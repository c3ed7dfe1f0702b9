"""Client mistakes get OpenAI-shaped errors with an ``x-request-id``; the gateway serves on."""

from __future__ import annotations

from typing import Any

import aiohttp
import openai
import pytest
from multidict import CIMultiDict

from tests.fixtures.stack import ADMIN_KEY, KEYS, MODEL, gateway_stack

HELLO = [{"role": "user", "content": "Hello"}]


def _limits(tree: dict[str, Any]) -> None:
    tree["server"]["max_body_bytes"] = 4096


async def _post(
    session: aiohttp.ClientSession, url: str, data: bytes | str, key: str = KEYS["fast"]
) -> tuple[int, CIMultiDict[str], Any]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with session.post(url, data=data, headers=headers) as resp:
        return resp.status, resp.headers.copy(), await resp.json(content_type=None)


def _assert_openai_error(
    body: Any, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    assert isinstance(body, dict) and set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["type"], str) and err["type"]
    if code is not None:
        assert err["code"] == code
    if param is not None:
        assert err["param"] == param
    return err


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        (b"{not json", "invalid_json", None),
        (b"", "invalid_json", None),
        (b"[1, 2]", None, None),
        (b'{"model": "llama-3.1-8b"}', "missing_required_parameter", "messages"),
        (b'{"model": "llama-3.1-8b", "messages": []}', "invalid_value", "messages"),
        (
            b'{"model": "llama-3.1-8b", "messages": [{"role": "robot", "content": "x"}]}',
            "invalid_value",
            "messages.0.role",
        ),
        (
            b'{"model": "llama-3.1-8b", "messages": [{"role": "user", "content": "x"}], '
            b'"temperature": 9}',
            "invalid_value",
            "temperature",
        ),
        (
            b'{"model": "llama-3.1-8b", "messages": [{"role": "user", "content": "x"}], '
            b'"max_tokens": 0}',
            "invalid_value",
            "max_tokens",
        ),
        (
            b'{"model": "llama-3.1-8b", '
            b'"messages": [{"role": "user", "content": [{"type": "text"}]}]}',
            "missing_required_parameter",
            "messages.0.content.0.text",
        ),
    ],
)
async def test_bad_bodies_are_400_with_param(
    body: bytes, code: str | None, param: str | None
) -> None:
    async with gateway_stack(n_sims=1) as stack, aiohttp.ClientSession() as s:
        status, headers, payload = await _post(s, stack.url + "/v1/chat/completions", body)
        assert status == 400
        err = _assert_openai_error(payload, code, param)
        assert err["type"] == "invalid_request_error"
        assert headers["x-request-id"].startswith("req_")


async def test_auth_errors() -> None:
    async with gateway_stack(n_sims=1) as stack:
        with pytest.raises(openai.AuthenticationError) as err:
            await stack.client("sk-not-a-key").chat.completions.create(model=MODEL, messages=HELLO)
        assert err.value.status_code == 401 and err.value.body["code"] == "invalid_api_key"
        assert err.value.response.headers["x-request-id"]
        with pytest.raises(openai.AuthenticationError):
            await stack.client("sk-not-a-key").models.list()
        with pytest.raises(openai.PermissionDeniedError) as denied:
            await stack.client(ADMIN_KEY).chat.completions.create(model=MODEL, messages=HELLO)
        assert denied.value.status_code == 403
        async with aiohttp.ClientSession() as s:
            async with s.post(
                stack.url + "/v1/chat/completions", json={"model": MODEL, "messages": HELLO}
            ) as resp:
                assert resp.status == 401
                _assert_openai_error(await resp.json(), "missing_api_key")
                assert resp.headers["x-request-id"]
            async with s.get(
                stack.url + "/v1/models", headers={"Authorization": "Basic abc"}
            ) as resp:
                assert resp.status == 401
                _assert_openai_error(await resp.json(), "missing_api_key")


async def test_unknown_model_path_and_method() -> None:
    async with gateway_stack(n_sims=1) as stack:
        with pytest.raises(openai.NotFoundError) as err:
            await stack.client().chat.completions.create(model="gpt-17", messages=HELLO)
        _assert_openai_error(err.value.response.json(), "model_not_found", "model")
        async with aiohttp.ClientSession() as s:
            auth = {"Authorization": f"Bearer {KEYS['fast']}"}
            async with s.get(stack.url + "/v1/nowhere", headers=auth) as resp:
                assert resp.status == 404
                _assert_openai_error(await resp.json())
                assert resp.headers["x-request-id"].startswith("req_")
            async with s.get(stack.url + "/v1/chat/completions", headers=auth) as resp:
                assert resp.status == 405
                _assert_openai_error(await resp.json())
                assert "POST" in resp.headers["Allow"]
                assert resp.headers["x-request-id"]
            async with s.delete(stack.url + "/v1/models", headers=auth) as resp:
                assert resp.status == 405
                _assert_openai_error(await resp.json())


async def test_body_too_large_is_413() -> None:
    async with gateway_stack(n_sims=1, patch=_limits) as stack, aiohttp.ClientSession() as s:
        big = (
            '{"model": "llama-3.1-8b", "messages": [{"role": "user", "content": "'
            + "x" * 8000
            + '"}]}'
        )
        status, headers, payload = await _post(s, stack.url + "/v1/chat/completions", big)
        assert status == 413
        _assert_openai_error(payload, "body_too_large")
        assert headers["x-request-id"]

        # Chunked (no Content-Length): the limit still holds while reading.
        async def chunks():  # type: ignore[no-untyped-def]
            yield big[:100].encode()
            yield big[100:].encode()

        headers2 = {"Authorization": f"Bearer {KEYS['fast']}", "Content-Type": "application/json"}
        async with s.post(
            stack.url + "/v1/chat/completions", data=chunks(), headers=headers2
        ) as resp:
            assert resp.status == 413
            _assert_openai_error(await resp.json(), "body_too_large")
        ok = await stack.client().chat.completions.create(model=MODEL, messages=HELLO, max_tokens=2)
        assert ok.choices[0].message.content


async def test_context_length_exceeded() -> None:
    async with gateway_stack(n_sims=1) as stack:
        long = [{"role": "user", "content": "hello " * 9000}]  # > the model's 8192
        with pytest.raises(openai.BadRequestError) as err:
            await stack.client().chat.completions.create(model=MODEL, messages=long, max_tokens=10)
        _assert_openai_error(err.value.response.json(), "context_length_exceeded", "messages")
        assert "8192" in err.value.body["message"]
        with pytest.raises(openai.BadRequestError) as err:
            await stack.client().completions.create(model=MODEL, prompt="hi", max_tokens=9000)
        _assert_openai_error(err.value.response.json(), "context_length_exceeded", "prompt")
        # The economy tier caps context at 4096, below the model's 8192.
        mid = [{"role": "user", "content": "hello " * 5000}]
        with pytest.raises(openai.BadRequestError) as err:
            await stack.client(KEYS["economy"]).chat.completions.create(
                model=MODEL, messages=mid, max_tokens=10
            )
        assert "4096" in err.value.body["message"]
        ok = await stack.client().chat.completions.create(model=MODEL, messages=mid, max_tokens=3)
        assert ok.usage is not None and ok.usage.completion_tokens == 3
