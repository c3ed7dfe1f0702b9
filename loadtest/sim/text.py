"""Deterministic completion text: one vocabulary word per token, seeded by the request.

Pure. Every word is a single cl100k token with or without its leading space, so the text
re-tokenises to exactly ``completion_tokens`` and a gateway that counts it agrees with the usage.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

# 256 words, so one random byte picks one; tests check each is one token in cl100k_base.
# fmt: off
WORDS: tuple[str, ...] = (
    "the", "of", "and", "to", "in", "is", "that", "it", "for", "was", "on", "are", "as", "with",
    "his", "they", "at", "be", "this", "from", "have", "or", "by", "one", "had", "not", "but",
    "what", "all", "were", "when", "we", "there", "can", "an", "your", "which", "their", "said",
    "if", "do", "will", "each", "about", "how", "up", "out", "them", "then", "she", "many",
    "some", "so", "these", "would", "other", "into", "has", "more", "her", "two", "like", "him",
    "see", "time", "could", "no", "make", "than", "first", "been", "its", "who", "now", "people",
    "my", "made", "over", "did", "down", "only", "way", "find", "use", "may", "water", "long",
    "little", "very", "after", "words", "called", "just", "where", "most", "know", "get",
    "through", "back", "much", "before", "go", "good", "new", "write", "our", "used", "me", "man",
    "too", "any", "day", "same", "right", "look", "think", "also", "around", "another", "came",
    "come", "work", "three", "word", "must", "because", "does", "part", "even", "place", "well",
    "such", "here", "take", "why", "things", "help", "put", "years", "different", "away", "again",
    "off", "went", "old", "number", "great", "tell", "men", "say", "small", "every", "found",
    "still", "between", "name", "should", "home", "big", "give", "air", "line", "set", "own",
    "under", "read", "last", "never", "us", "left", "end", "along", "while", "might", "next",
    "sound", "below", "something", "thought", "both", "few", "those", "always", "show", "large",
    "often", "house", "world", "going", "want", "school", "important", "until", "form", "food",
    "keep", "children", "land", "side", "without", "boy", "once", "animals", "life", "took",
    "sometimes", "four", "head", "above", "kind", "almost", "live", "page", "got", "earth",
    "need", "far", "hand", "high", "year", "mother", "light", "parts", "country", "father", "let",
    "night", "following", "picture", "being", "study", "second", "eyes", "soon", "times", "story",
    "boys", "since", "white", "days", "ever", "paper", "hard", "near", "sentence", "better",
    "best", "during", "today", "others", "however", "sure", "means", "try", "young", "sun",
)
# fmt: on
_FIRST = WORDS  # the first token carries no leading space, as chat answers start
_REST = tuple(" " + w for w in WORDS)


@dataclass(frozen=True, slots=True)
class Completion:
    """What a sequence will say: the text each generated token adds, and why it ends."""

    pieces: tuple[str, ...]  # one per generated token; "" for tokens swallowed by a stop string
    finish_reason: str  # "length", or "stop" (a stop string, or the model's natural end)

    @property
    def tokens(self) -> int:
        return len(self.pieces)

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def text_seed(content: str, seed: int = 0) -> int:
    """A seed from what the request says, so the same prompt gets the same answer."""
    return zlib.crc32(content.encode("utf-8", "surrogatepass")) ^ (seed * 0x9E3779B1)


def plan_completion(
    seed: int, max_tokens: int, stop: Sequence[str] = (), finish_reason: str = "length"
) -> Completion:
    """``max_tokens`` words ending with ``finish_reason``, or fewer if a stop string appears.

    As vLLM does: generation ends on the token that completes the first stop string, that token
    counts in the usage, and the stop string itself and anything after it are not returned.
    """
    rng = random.Random(seed)
    picks = rng.randbytes(max_tokens)
    pieces = [_REST[b] for b in picks]
    pieces[0] = _FIRST[picks[0]]
    if stop:
        cut = _first_stop(pieces, stop)
        if cut is not None:
            return Completion(_truncate(pieces, *cut), "stop")
    return Completion(tuple(pieces), finish_reason)


def _first_stop(pieces: list[str], stop: Sequence[str]) -> tuple[int, int] | None:
    """(char offset where the output is cut, chars up to the end of the stop) of the first stop."""
    text = "".join(pieces)
    best: tuple[int, int] | None = None
    for s in stop:
        if not s:
            continue
        at = text.find(s)
        if at >= 0 and (best is None or at + len(s) < best[1]):
            best = (at, at + len(s))
    return best


def _truncate(pieces: list[str], cut: int, stop_end: int) -> tuple[str, ...]:
    """Tokens up to the one that completes the stop string, their text clipped at ``cut``."""
    out: list[str] = []
    start = 0
    for piece in pieces:
        end = start + len(piece)
        out.append(piece[: max(0, cut - start)] if end > cut else piece)
        if end >= stop_end:
            break
        start = end
    return tuple(out)
