"""OpenAI response bodies and SSE frames, as bytes, cheaply: the per-token path is a concatenation.

Pure. Each stream pre-renders the constant head and tail of its chunks once, so a token costs
one JSON string escape and a few byte joins.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson

    def dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

except ImportError:  # orjson is the optional "fast" extra

    def dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


DONE = b"data: [DONE]\n\n"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


class ChunkEncoder:
    """SSE frames of one streamed response (chat or legacy completion), one token per chunk."""

    __slots__ = (
        "_chat",
        "_head",
        "_role_head",
        "_tail_final",
        "_tail_open",
        "_usage_head",
        "_usage_null",
    )

    def __init__(
        self, kind: str, response_id: str, created: int, model: str, include_usage: bool
    ) -> None:
        self._chat = kind == "chat"
        obj = "chat.completion.chunk" if self._chat else "text_completion"
        common = (
            b'{"id":'
            + dumps(response_id)
            + b',"object":"'
            + obj.encode()
            + b'","created":'
            + str(created).encode()
            + b',"model":'
            + dumps(model)
        )
        field = b'"delta":{"content":' if self._chat else b'"text":'
        close = b"}" if self._chat else b""
        usage_null = b',"usage":null' if include_usage else b""
        self._head = b"data: " + common + b',"choices":[{"index":0,' + field
        self._role_head = (
            b"data: " + common + b',"choices":[{"index":0,"delta":{"role":"assistant","content":'
        )
        self._usage_null = usage_null
        self._tail_open = close + b',"logprobs":null,"finish_reason":null}]' + usage_null + b"}\n\n"
        self._tail_final = close + b',"logprobs":null,"finish_reason":'
        self._usage_head = b"data: " + common + b',"choices":[],"usage":'

    def role(self) -> bytes:
        """vLLM's first chat chunk: the assistant role with empty content (none for completions)."""
        if not self._chat:
            return b""
        return self._role_head + b'""' + self._tail_open

    def token(self, piece: str) -> bytes:
        return self._head + dumps(piece) + self._tail_open

    def last_token(self, piece: str, finish_reason: str) -> bytes:
        """The chunk with the final token also carries ``finish_reason`` (as vLLM sends it)."""
        reason = b'"' + finish_reason.encode() + b'"}]'
        return self._head + dumps(piece) + self._tail_final + reason + self._usage_null + b"}\n\n"

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        return self._usage_head + dumps(usage(prompt_tokens, completion_tokens)) + b"}\n\n"


def completion_body(
    kind: str,
    response_id: str,
    created: int,
    model: str,
    *,
    text: str,
    finish_reason: str,
    prompt_tokens: int,
    completion_tokens: int,
) -> bytes:
    """A whole (non-streamed) ``chat.completion`` or ``text_completion``."""
    if kind == "chat":
        obj = "chat.completion"
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text, "tool_calls": []},
            "logprobs": None,
            "finish_reason": finish_reason,
        }
    else:
        obj = "text_completion"
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}
    return dumps(
        {
            "id": response_id,
            "object": obj,
            "created": created,
            "model": model,
            "choices": [choice],
            "usage": usage(prompt_tokens, completion_tokens),
        }
    )


def model_list(models: list[str], created: int, max_model_len: int) -> bytes:
    return dumps(
        {
            "object": "list",
            "data": [
                {
                    "id": m,
                    "object": "model",
                    "created": created,
                    "owned_by": "vllm",
                    "root": m,
                    "parent": None,
                    "max_model_len": max_model_len,
                }
                for m in models
            ],
        }
    )
