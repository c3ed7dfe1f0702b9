"""Request validation: vLLM's limits and error shapes, without a server."""

from __future__ import annotations

from typing import Any

import pytest

from loadtest.sim.protocol import ApiError, Limits, parse_chat, parse_completion
from loadtest.sim.tokens import PromptCounter

COUNTER = PromptCounter()
LIMITS = Limits(max_model_len=1000, default_max_tokens=256)
MSG = [{"role": "user", "content": "hi"}]  # 3 + 1 + 1 + 3 = 8 prompt tokens


def chat(**body: Any) -> Any:
    return parse_chat({"model": "m", "messages": MSG, **body}, COUNTER, LIMITS, 0)


@pytest.mark.parametrize(
    ("body", "max_tokens", "finish"),
    [
        ({"max_tokens": 7}, 7, "length"),
        ({"max_completion_tokens": 9, "max_tokens": 3}, 9, "length"),
        ({}, 256, "stop"),
        ({"ignore_eos": True}, 1000 - 8, "length"),
        ({"max_tokens": None}, 256, "stop"),
    ],
)
def test_max_tokens(body: dict[str, Any], max_tokens: int, finish: str) -> None:
    job = chat(**body)
    assert (job.prompt_tokens, job.max_tokens, job.finish_reason) == (8, max_tokens, finish)


def test_default_answer_shrinks_to_the_room_left() -> None:
    job = parse_chat(
        {"model": "m", "messages": MSG},
        COUNTER,
        Limits(max_model_len=100, default_max_tokens=256),
        0,
    )
    assert job.max_tokens == 92


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"max_tokens": 993}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": "5"}, "max_tokens"),
        ({"n": 2}, "n"),
        ({"stop": 5}, "stop"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"messages": []}, "messages"),
        ({"messages": ["hi"]}, "messages"),
    ],
)
def test_refusals_are_400_in_vllm_shape(body: dict[str, Any], param: str) -> None:
    with pytest.raises(ApiError) as info:
        chat(**body)
    err = info.value.body()["error"]
    assert info.value.status == 400
    assert set(err) == {"message", "type", "param", "code"}
    assert (err["type"], err["code"], err["param"]) == ("BadRequestError", 400, param)


def test_context_overflow_message_names_the_numbers() -> None:
    with pytest.raises(ApiError) as info:
        chat(max_tokens=993)
    assert "maximum context length is 1000 tokens" in info.value.message
    assert "1001 tokens (8 in the messages, 993 in the completion)" in info.value.message


def test_stream_flags_and_stop() -> None:
    job = chat(stream=True, stream_options={"include_usage": True}, stop="x")
    assert (job.stream, job.include_usage, job.stop) == (True, True, ("x",))
    assert chat(stream=True).include_usage is False


def test_completion_prompt_and_seed_from_content() -> None:
    a = parse_completion({"model": "m", "prompt": "abc", "max_tokens": 3}, COUNTER, LIMITS, 0)
    b = parse_completion({"model": "m", "prompt": "abd", "max_tokens": 3}, COUNTER, LIMITS, 0)
    assert a.kind == "completion" and a.prompt_tokens >= 1
    assert a.seed != b.seed
    with pytest.raises(ApiError):
        parse_completion({"model": "m"}, COUNTER, LIMITS, 0)
