"""Context caps, output caps and model permissions, exactly at their boundaries.

Prompts are sized with the gateway's own TokenCounter (the tokenizer and chat overhead it
enforces with), so "exactly the cap" means the cap as the gateway counts it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from gateway.metering.tokens import TokenCounter
from tests.fixtures.stack import ENGINE_MODEL, KEYS, MODEL, Stack, gateway_stack

ECONOMY_CAP = 4096  # the stack's economy max_context; the model's own is 8192
REPLY = 16


def text_of(tokens: int) -> str:
    """A text of exactly ``tokens`` tokens (cl100k: " word" is one token)."""
    return "word" + " word" * (tokens - 1) if tokens else ""


def message_of(counter: TokenCounter, role: str, tokens: int) -> dict[str, str]:
    """A message that adds exactly ``tokens`` to the prompt, chat overhead included."""
    overhead = counter.message({"role": role, "content": ""})
    m = {"role": role, "content": text_of(tokens - overhead)}
    assert counter.message(m) == tokens
    return m


def prompt_of(counter: TokenCounter, tokens: int) -> list[dict[str, str]]:
    """One user message; the whole prompt (reply priming included) is exactly ``tokens``."""
    priming = counter.messages([])  # the reply priming alone
    messages = [message_of(counter, "user", tokens - priming)]
    assert counter.messages(messages) == tokens
    return messages


def _fast_ten(tree: dict[str, Any]) -> None:
    tree["tiers"]["fast"].update(max_output_tokens=10, on_max_tokens="reject")
    tree["tiers"]["economy"].update(max_output_tokens=10, on_max_tokens="clamp", min_ttft_ms=0)
    tree["tiers"]["economy"]["batch"] = {"policy": "continuous"}
    # a second public name for the same engine model, that only fast may use
    for b in tree["backends"]:
        b["models"]["llama-3.1-8b-premium"] = ENGINE_MODEL
    tree["models"]["llama-3.1-8b-premium"] = {"max_context": 8192}
    tree["tiers"]["economy"]["models"] = [MODEL]


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    async with gateway_stack(n_sims=1, patch=_fast_ten) as s:
        yield s


def _counter(stack: Stack) -> TokenCounter:
    return stack.gateway.runtime.counter


@pytest.mark.parametrize(("tier", "cap"), [("economy", ECONOMY_CAP), ("fast", 8192)])
async def test_the_context_cap_admits_exactly_the_cap_and_rejects_one_more(
    stack: Stack, tier: str, cap: int
) -> None:
    client = stack.client(KEYS[tier])
    counter = _counter(stack)
    fits = await client.chat.completions.create(
        model=MODEL, messages=prompt_of(counter, cap - 10), max_tokens=10
    )
    assert fits.usage is not None and fits.usage.completion_tokens == 10
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model=MODEL, messages=prompt_of(counter, cap - 9), max_tokens=10
        )
    assert caught.value.code == "context_length_exceeded"
    assert caught.value.param == "messages"
    assert f"maximum context length is {cap} tokens" in caught.value.message
    assert f"requested {cap + 1} tokens" in caught.value.message


async def test_without_max_tokens_a_full_prompt_still_gets_the_room_that_is_left(
    stack: Stack,
) -> None:
    client = stack.client(KEYS["economy"])
    counter = _counter(stack)
    out = await client.chat.completions.create(
        model=MODEL, messages=prompt_of(counter, ECONOMY_CAP - 3)
    )
    assert out.usage is not None and out.usage.completion_tokens == 3  # not the tier's 10
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model=MODEL, messages=prompt_of(counter, ECONOMY_CAP))
    assert caught.value.code == "context_length_exceeded"


async def test_max_output_tokens_clamps_or_rejects_as_the_tier_says(stack: Stack) -> None:
    eco, fast = stack.client(KEYS["economy"]), stack.client(KEYS["fast"])
    args: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}
    clamped = await eco.chat.completions.create(**args, max_tokens=500)
    assert clamped.usage is not None and clamped.usage.completion_tokens == 10
    unsized = await eco.chat.completions.create(**args)
    assert unsized.usage is not None and unsized.usage.completion_tokens == 10
    at_limit = await fast.chat.completions.create(**args, max_completion_tokens=10)
    assert at_limit.usage is not None and at_limit.usage.completion_tokens == 10
    for field in ("max_tokens", "max_completion_tokens"):
        with pytest.raises(openai.BadRequestError) as caught:
            await fast.chat.completions.create(**args, **{field: 11})
        assert caught.value.code == "max_tokens_exceeded"
        assert caught.value.param == field


async def test_a_tier_may_not_use_a_model_outside_its_list(stack: Stack) -> None:
    eco, fast = stack.client(KEYS["economy"]), stack.client(KEYS["fast"])
    msgs: Any = [{"role": "user", "content": "Hi"}]
    with pytest.raises(openai.PermissionDeniedError) as caught:
        await eco.chat.completions.create(model="llama-3.1-8b-premium", messages=msgs, max_tokens=2)
    assert caught.value.status_code == 403
    assert caught.value.code == "model_not_allowed" and caught.value.param == "model"
    ok = await fast.chat.completions.create(
        model="llama-3.1-8b-premium", messages=msgs, max_tokens=2
    )
    assert ok.choices[0].message.content


def _truncating(tree: dict[str, Any]) -> None:
    eco = tree["tiers"]["economy"]
    eco.update(on_overflow="truncate", min_ttft_ms=0, batch={"policy": "continuous"})


@pytest.mark.parametrize(
    ("extra", "dropped"),
    [
        pytest.param(0, 2, id="dropping two lands exactly on the cap"),
        pytest.param(1, 3, id="one token more: a third must go"),
    ],
)
async def test_truncate_drops_the_oldest_non_system_messages_to_fit_exactly(
    extra: int, dropped: int
) -> None:
    async with gateway_stack(n_sims=1, patch=_truncating) as stack:
        counter = _counter(stack)
        priming = counter.messages([])
        history = [
            message_of(counter, role, 1000) for role in ("user", "assistant", "user", "assistant")
        ]
        final = message_of(counter, "user", 2000 + extra)
        # sized so that, with two history messages dropped, prompt + reply is exactly the cap
        system = message_of(counter, "system", ECONOMY_CAP - REPLY - priming - 2 * 1000 - 2000)
        messages = [system, *history, final]
        raw = await stack.client(KEYS["economy"]).chat.completions.with_raw_response.create(
            model=MODEL, messages=messages, max_tokens=REPLY
        )
        assert raw.headers["x-tokengate-truncated-messages"] == str(dropped)
        assert raw.parse().choices[0].message.content
        # the fewest drops that fit: one fewer would not have
        assert counter.messages([system, *history[dropped:], final]) + REPLY <= ECONOMY_CAP
        assert counter.messages([system, *history[dropped - 1 :], final]) + REPLY > ECONOMY_CAP

        # the last message alone does not fit: even truncation cannot help
        with pytest.raises(openai.BadRequestError) as caught:
            await stack.client(KEYS["economy"]).chat.completions.create(
                model=MODEL, messages=[system, message_of(counter, "user", 4100)], max_tokens=REPLY
            )
        assert caught.value.code == "context_length_exceeded"
