"""Prompts from a dataset file: ShareGPT-style JSON, or JSONL of prompts.

Accepted entries (in a JSON array, or one per JSONL line):
``{"conversations": [{"from": "human", "value": ...}, {"from": "gpt", "value": ...}]}``
(ShareGPT: the first human turn is the prompt, the reply after it gives the output length),
``{"messages": [{"role": "user", "content": ...}, ...]}`` (the same with OpenAI roles),
``{"prompt": ..., "output_tokens": N}`` (also ``"text"``; ``max_tokens`` also read), or a
bare string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_HUMAN = {"human", "user"}
_ASSISTANT = {"gpt", "assistant", "chatgpt", "bard", "bing", "model"}


@dataclass(frozen=True, slots=True)
class DatasetPrompt:
    prompt: str
    reply: str | None = None  # the recorded answer, whose length becomes the output length
    output_tokens: int | None = None  # an explicit output length, when the file gives one


def load_dataset(path: Path | str) -> list[DatasetPrompt]:
    """Every usable prompt in the file, in file order; entries without a prompt are skipped."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        items: list[Any] = json.loads(text)
    else:
        items = [json.loads(line) for line in text.splitlines() if line.strip()]
    prompts = [p for p in map(_entry, items) if p is not None]
    if not prompts:
        raise ValueError(f"{path}: no prompts found (expected ShareGPT conversations or prompts)")
    return prompts


def _entry(item: Any) -> DatasetPrompt | None:
    if isinstance(item, str):
        return DatasetPrompt(item) if item.strip() else None
    if not isinstance(item, dict):
        return None
    turns = item.get("conversations") or item.get("conversation") or item.get("messages")
    if isinstance(turns, list):
        return _first_exchange(turns)
    prompt = item.get("prompt") or item.get("text") or item.get("input")
    if not isinstance(prompt, str) or not prompt.strip():
        return None
    out = item.get("output_tokens", item.get("max_tokens"))
    reply = item.get("completion") or item.get("output")
    return DatasetPrompt(
        prompt,
        reply if isinstance(reply, str) else None,
        int(out) if isinstance(out, int | float) and out >= 1 else None,
    )


def _first_exchange(turns: list[Any]) -> DatasetPrompt | None:
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            continue
        speaker = str(turn.get("from", turn.get("role", ""))).lower()
        value = turn.get("value", turn.get("content"))
        if speaker in _HUMAN and isinstance(value, str) and value.strip():
            reply = None
            for later in turns[i + 1 :]:
                if not isinstance(later, dict):
                    continue
                who = str(later.get("from", later.get("role", ""))).lower()
                said = later.get("value", later.get("content"))
                if who in _ASSISTANT and isinstance(said, str) and said.strip():
                    reply = said
                break
            return DatasetPrompt(value, reply)
    return None
