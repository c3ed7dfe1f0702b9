"""Pydantic models of the OpenAI request fields a gateway must understand.

Only what the gateway reads or must reject is declared; every other field passes
through to the engine untouched (``extra="allow"``), because engines accept
extensions such as ``top_k``, ``ignore_eos`` or ``guided_json``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.errors import APIError

M = TypeVar("M", bound=BaseModel)


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class StreamOptions(Open):
    include_usage: bool = False


class TextPart(Open):
    type: Literal["text"]
    text: str


class OtherPart(Open):
    type: Literal["image_url", "input_audio", "file", "input_image", "refusal"]


ContentPart = Annotated[TextPart | OtherPart, Field(discriminator="type")]


class ChatMessage(Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class SamplingFields(Open):
    """Fields shared by chat and legacy completions."""

    model: str = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1, le=16)
    stop: str | list[str] | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    seed: int | None = None
    user: str | None = None
    max_tokens: int | None = Field(None, ge=1)

    @property
    def include_usage(self) -> bool:
        return bool(self.stream and self.stream_options and self.stream_options.include_usage)


class ChatCompletionRequest(SamplingFields):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(SamplingFields):
    prompt: str | list[str] | list[int] | list[list[int]]
    echo: bool | None = None
    logprobs: int | None = Field(None, ge=0, le=5)
    suffix: str | None = None

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_tokens


def validate_request(model: type[M], data: Any) -> M:
    """Validate a decoded JSON body, answering the most specific problem as an OpenAI 400."""
    if not isinstance(data, dict):
        raise APIError(400, "The request body must be a JSON object.", code="invalid_value")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # A union field fails once per member; the deepest location is the one the client got wrong.
        located = [
            (_param_path(data, err["loc"], err["type"] == "missing"), err)
            for err in exc.errors(include_url=False)
        ]
        path, err = max(located, key=lambda pe: len(pe[0]))
        param = ".".join(str(p) for p in path) or None
        if err["type"] == "missing":
            message = f"Missing required parameter: '{param}'."
        else:
            message = f"Invalid value for '{param}': {err['msg']}."
        code = "missing_required_parameter" if err["type"] == "missing" else "invalid_value"
        raise APIError(400, message, param=param, code=code) from None


def _param_path(data: Any, loc: tuple[int | str, ...], missing: bool) -> list[int | str]:
    """The error location as the client wrote it: pydantic's union member labels dropped.

    Walks the request alongside the location: a step that names a key or index of the
    input is kept; a label pydantic inserted (``str``, ``list[...]``, a union tag) is not.
    Names alone cannot tell them apart: a content part's tag ``text`` is also its field.
    """
    node, path = data, []
    for i, step in enumerate(loc):
        last = i == len(loc) - 1
        if (
            isinstance(node, dict)
            and isinstance(step, str)
            and (step in node or (last and missing))
        ):
            node = node.get(step)
            path.append(step)
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
            path.append(step)
    return path
