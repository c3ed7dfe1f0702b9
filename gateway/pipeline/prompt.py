"""Count the prompt and apply the caps: model context, tier context, tier max output tokens.

Over a cap the request is rejected with OpenAI's ``context_length_exceeded``, or,
where the tier says ``on_overflow: truncate``, the oldest non-system messages are
dropped until it fits (the response header says how many).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

from gateway.config.schema import ModelConfig, TierConfig
from gateway.errors import APIError
from gateway.metering.tokens import TokenCounter, drop_oldest_messages

# Prompts longer than this are counted off the event loop (tiktoken takes ~1 ms per 10k chars).
_THREAD_CHARS = 40_000
_PREFIX_CHARS = 512


@dataclass(frozen=True, slots=True)
class PreparedPrompt:
    payload: dict[str, Any]  # the body for the engine, minus the per-backend model name
    prompt_tokens: int
    max_tokens: int
    truncated_messages: int
    prefix_hash: int | None


async def prepare_prompt(
    endpoint: str,
    raw: dict[str, Any],
    *,
    requested_max_tokens: int | None,
    counter: TokenCounter,
    model: ModelConfig,
    tier: TierConfig,
) -> PreparedPrompt:
    chat = endpoint == "chat"
    messages = raw.get("messages") if chat else None
    tools = raw.get("tools") if chat else None
    size = _approx_chars(raw.get("messages") if chat else raw.get("prompt"))
    if chat:
        count = lambda: counter.messages(messages, tools)  # noqa: E731
    else:
        count = lambda: counter.completion_prompt(raw.get("prompt"))  # noqa: E731
    prompt_tokens = await asyncio.to_thread(count) if size > _THREAD_CHARS else count()

    cap = min(model.max_context, tier.max_context or model.max_context)
    param = (
        "max_completion_tokens"
        if chat and raw.get("max_completion_tokens") is not None
        else "max_tokens"
    )
    wanted = requested_max_tokens
    if (
        wanted is not None
        and tier.max_output_tokens is not None
        and wanted > tier.max_output_tokens
    ):
        if tier.on_max_tokens == "reject":
            raise APIError(
                400,
                f"{param} is {wanted}, but this tier allows at most "
                f"{tier.max_output_tokens} output tokens.",
                param=param,
                code="max_tokens_exceeded",
            )
        wanted = tier.max_output_tokens
    # A reply the client did not size needs room for one token (it then gets what is left, up
    # to the tier's limit): the cap is never enforced against a number nobody asked for. When
    # truncation is needed anyway, it makes room for the tier's usual reply.
    reply = wanted if wanted is not None else 1
    room = wanted if wanted is not None else min(tier.max_output_tokens or 1, cap // 2)

    truncated = 0
    payload = dict(raw)
    if prompt_tokens + reply > cap and tier.on_overflow == "truncate" and chat and messages:
        kept, truncated, prompt_tokens = drop_oldest_messages(counter, messages, cap - room, tools)
        payload["messages"] = kept
    if prompt_tokens + reply > cap:
        limit_note = (
            f"This model's maximum context length is {cap} tokens"
            if cap == model.max_context
            else f"This tier's maximum context length is {cap} tokens"
        )
        raise APIError(
            400,
            f"{limit_note}. However, you requested {prompt_tokens + reply} tokens "
            f"({prompt_tokens} in the {'messages' if chat else 'prompt'}, "
            f"{reply} in the completion). "
            "Please reduce the length of the messages or completion.",
            param="messages" if chat else "prompt",
            code="context_length_exceeded",
        )
    if wanted is None:
        wanted = min(tier.max_output_tokens or cap, cap - prompt_tokens)
    payload[param] = wanted
    return PreparedPrompt(payload, prompt_tokens, wanted, truncated, _prefix_hash(payload, chat))


def _approx_chars(node: Any) -> int:
    if isinstance(node, str):
        return len(node)
    if isinstance(node, list):
        return sum(_approx_chars(n) for n in node)
    if isinstance(node, dict):
        return sum(_approx_chars(v) for v in node.values())
    return 0


def _prefix_hash(payload: dict[str, Any], chat: bool) -> int | None:
    """A stable hash of the prompt's opening text (same across replicas), for prefix affinity."""
    if chat:
        head = []
        for m in payload.get("messages") or []:
            c = m.get("content") if isinstance(m, dict) else None
            head.append(c if isinstance(c, str) else str(c))
            if sum(map(len, head)) >= _PREFIX_CHARS:
                break
        text = "\x00".join(head)[:_PREFIX_CHARS]
    else:
        p = payload.get("prompt")
        text = p[:_PREFIX_CHARS] if isinstance(p, str) else str(p)[:_PREFIX_CHARS]
    if not text:
        return None
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
