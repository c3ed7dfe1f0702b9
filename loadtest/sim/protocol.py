"""OpenAI request bodies in, a validated generation job out, with vLLM's 400s for what it refuses.

Pure: dicts in, a frozen ``Job`` or an ``ApiError`` out. The HTTP layer does the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from loadtest.sim.text import text_seed
from loadtest.sim.tokens import PromptCounter, prompt_text

# vLLM names its error ``type`` after the exception class.
ERROR_TYPES = {
    400: "BadRequestError",
    401: "Unauthorized",
    404: "NotFoundError",
    429: "TooManyRequestsError",
    500: "InternalServerError",
    502: "BadGatewayError",
    503: "ServiceUnavailableError",
    504: "GatewayTimeoutError",
}


class ApiError(Exception):
    """An error response in vLLM's shape: ``{"error": {message, type, param, code}}``."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param

    def body(self) -> dict[str, Any]:
        kind = ERROR_TYPES.get(self.status, "InternalServerError")
        # vLLM sends ``code`` as the integer status; the gateway normalises it.
        return {
            "error": {
                "message": self.message,
                "type": kind,
                "param": self.param,
                "code": self.status,
            }
        }


@dataclass(frozen=True, slots=True)
class Limits:
    max_model_len: int
    default_max_tokens: int  # the answer length when a request names no max_tokens


@dataclass(frozen=True, slots=True)
class Job:
    """One validated generation request."""

    kind: Literal["chat", "completion"]
    model: str
    prompt_tokens: int
    max_tokens: int
    finish_reason: str  # at max_tokens: "length" if the client capped it, "stop" if natural
    stop: tuple[str, ...]
    stream: bool
    include_usage: bool
    seed: int


def parse_chat(body: dict[str, Any], counter: PromptCounter, limits: Limits, seed: int) -> Job:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list", "messages")
    try:
        prompt_tokens = counter.chat(messages)
    except ValueError as e:
        raise ApiError(400, str(e), "messages") from None
    content = prompt_text(messages)
    return _job(
        "chat", body, prompt_tokens=prompt_tokens, content=content, limits=limits, seed=seed
    )


def parse_completion(
    body: dict[str, Any], counter: PromptCounter, limits: Limits, seed: int
) -> Job:
    prompt = body.get("prompt")
    if prompt is None:
        raise ApiError(400, "prompt is required", "prompt")
    try:
        prompt_tokens = counter.completion(prompt)
    except ValueError as e:
        raise ApiError(400, str(e), "prompt") from None
    return _job(
        "completion",
        body,
        prompt_tokens=prompt_tokens,
        content=repr(prompt),
        limits=limits,
        seed=seed,
    )


def _job(
    kind: Literal["chat", "completion"],
    body: dict[str, Any],
    *,
    prompt_tokens: int,
    content: str,
    limits: Limits,
    seed: int,
) -> Job:
    n = body.get("n", 1)
    if n not in (None, 1):
        raise ApiError(400, "the simulator serves n=1 only", "n")
    stream = body.get("stream") is True
    options = body.get("stream_options")
    if options is not None and not stream:
        raise ApiError(
            400, "Stream options can only be defined when `stream=True`.", "stream_options"
        )
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    stop = _stop(body.get("stop"))
    prompt_tokens = max(prompt_tokens, 1)  # an empty prompt still holds BOS in a real engine
    room = limits.max_model_len - prompt_tokens
    asked = body.get("max_completion_tokens") if kind == "chat" else None
    if asked is None:
        asked = body.get("max_tokens")
    if asked is not None:
        if not isinstance(asked, int) or isinstance(asked, bool) or asked < 1:
            raise ApiError(400, "max_tokens must be an integer of at least 1", "max_tokens")
        if asked > room:
            raise ApiError(400, _too_long(limits.max_model_len, prompt_tokens, asked), "max_tokens")
        max_tokens, finish = asked, "length"
    elif room < 1:
        raise ApiError(400, _too_long(limits.max_model_len, prompt_tokens, 1), "messages")
    elif body.get("ignore_eos") is True:
        max_tokens, finish = room, "length"  # no EOS: generate until the context is full
    else:
        max_tokens, finish = min(limits.default_max_tokens, room), "stop"
    request_seed = body.get("seed")
    mixed = seed ^ (request_seed if isinstance(request_seed, int) else 0)
    return Job(
        kind=kind,
        model=str(body.get("model")),
        prompt_tokens=prompt_tokens,
        max_tokens=max_tokens,
        finish_reason=finish,
        stop=stop,
        stream=stream,
        include_usage=include_usage,
        seed=text_seed(content, mixed),
    )


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return tuple(value)
    raise ApiError(400, "stop must be a string or a list of strings", "stop")


def _too_long(max_model_len: int, prompt_tokens: int, max_tokens: int) -> str:
    return (
        f"This model's maximum context length is {max_model_len} tokens. However, you requested "
        f"{prompt_tokens + max_tokens} tokens ({prompt_tokens} in the messages, {max_tokens} in "
        "the completion). Please reduce the length of the messages or completion."
    )
