"""The workload is seeded, independent of the profile, and mixes tiers by share."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from loadtest.config import RunConfig
from loadtest.dataset import load_dataset
from loadtest.plan import open_loop_plan
from loadtest.prompts import count_tokens
from loadtest.workload import Workload


def config(**extra: object) -> RunConfig:
    base: dict[str, object] = {
        "base_url": "http://sim.invalid",
        "model": "m",
        "tiers": [
            {"name": "fast", "api_key": "a", "share": 0.2},
            {"name": "eco", "api_key": "b", "share": 0.8},
        ],
        "profile": {"kind": "poisson", "rate": 50},
        "duration_s": 10,
        "prompt_tokens": {"kind": "uniform", "low": 20, "high": 60},
        "output_tokens": {"kind": "fixed", "value": 16},
    }
    return RunConfig.model_validate(base | extra)


def test_same_seed_same_requests_whatever_the_profile() -> None:
    a = Workload(config()).take(300)
    b = Workload(config(profile={"kind": "concurrency", "users": 4}, requests=5)).take(300)
    assert a == b
    assert Workload(config(seed=1)).take(300) != a


def test_prompt_lengths_are_real_tokens() -> None:
    for spec in Workload(config()).take(40):
        assert count_tokens(spec.prompt) == spec.prompt_tokens
        assert 20 <= spec.prompt_tokens <= 60
        assert spec.output_tokens == 16


def test_tier_mix_follows_the_shares() -> None:
    n = 20_000
    tiers = np.array([s.tier for s in Workload(config(prompt_tokens=1)).take(n)])
    # binomial share of the first tier: standard error √(p(1-p)/n) ≈ 0.0028; allow 5x
    assert (tiers == 0).mean() == pytest.approx(0.2, abs=5 * np.sqrt(0.2 * 0.8 / n))


def test_plan_marks_warmup_and_bounds_the_run() -> None:
    plan = open_loop_plan(config(warmup_s=2, duration_s=None, requests=100), config().profile)  # type: ignore[arg-type]
    assert len(plan.specs) == plan.warmup_count + 100
    assert plan.times_s[plan.warmup_count - 1] < 2.0 <= plan.times_s[plan.warmup_count]
    plan = open_loop_plan(config(warmup_s=1), config().profile)  # type: ignore[arg-type]
    assert plan.times_s[-1] < 11.0
    assert [s.index for s in plan.specs] == list(range(len(plan.specs)))


SHAREGPT = [
    {
        "id": "a",
        "conversations": [
            {"from": "human", "value": "Hello there, who are you?"},
            {"from": "gpt", "value": "I am a model that answers."},
        ],
    },
    {
        "id": "b",
        "conversations": [
            {"from": "system", "value": "be nice"},
            {"from": "human", "value": "Count to three."},
        ],
    },
    {"id": "c", "conversations": []},
]


def test_sharegpt_json_first_human_turn_and_reply(tmp_path: Path) -> None:
    path = tmp_path / "sg.json"
    path.write_text(json.dumps(SHAREGPT))
    items = load_dataset(path)
    assert [p.prompt for p in items] == ["Hello there, who are you?", "Count to three."]
    assert items[0].reply == "I am a model that answers."
    assert items[1].reply is None


def test_jsonl_forms(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    lines = [
        '"just a string"',
        '{"prompt": "p1", "output_tokens": 9}',
        '{"text": "p2"}',
        '{"messages": [{"role": "user", "content": "m1"}, {"role": "assistant", "content": "r"}]}',
        "",
        '{"nothing": 1}',
    ]
    path.write_text("\n".join(lines))
    items = load_dataset(path)
    assert [p.prompt for p in items] == ["just a string", "p1", "p2", "m1"]
    assert items[1].output_tokens == 9
    assert items[3].reply == "r"


def test_empty_dataset_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text('{"x": 1}\n')
    with pytest.raises(ValueError, match="no prompts"):
        load_dataset(path)


def test_workload_from_a_dataset_takes_output_length_from_the_reply(tmp_path: Path) -> None:
    path = tmp_path / "sg.json"
    path.write_text(json.dumps(SHAREGPT))
    specs = Workload(config(dataset=path)).take(10)
    by_prompt = {s.prompt: s for s in specs}
    assert set(by_prompt) == {"Hello there, who are you?", "Count to three."}
    hello = by_prompt["Hello there, who are you?"]
    assert hello.output_tokens == count_tokens("I am a model that answers.")
    assert hello.prompt_tokens == count_tokens(hello.prompt)
    assert by_prompt["Count to three."].output_tokens == 16  # no reply: the distribution
    spread = Workload(config(dataset=path, dataset_output="distribution")).take(4)
    assert {s.output_tokens for s in spread} == {16}
