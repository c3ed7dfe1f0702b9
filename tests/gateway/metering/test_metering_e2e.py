"""Metering through a running gateway (memory store): what clients were told is what the admin
API reports, streamed or not, charged at tier prices, with GPU cost attributed and conserved."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.stack import KEYS, MODEL, Stack, gateway_stack
from tests.gateway.metering.admin_client import admin_get, summed, totals_of, usage

IDS_1000 = [1] * 1000  # a completions prompt of token ids: exactly 1000 prompt tokens


def one_backend(tree: dict[str, Any]) -> None:
    tree["backends"] = tree["backends"][:1]


async def test_usage_totals_equal_the_sum_of_what_clients_were_told() -> None:
    async with gateway_stack(n_sims=2, time_scale=200) as stack:
        fast, economy = stack.client(KEYS["fast"]), stack.client(KEYS["economy"])
        calls = []
        for i in range(12):
            client = fast if i % 3 else economy
            messages = [{"role": "user", "content": f"Question number {i} " * (1 + i % 4)}]
            calls.append(
                client.chat.completions.create(model=MODEL, messages=messages, max_tokens=3 + i)
            )
        answers = await asyncio.gather(*calls)
        streamed = []
        for i in range(6):
            stream = await fast.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": f"stream {i}"}],
                max_tokens=4 + i,
                stream=True,
                stream_options={"include_usage": True},
            )
            streamed.extend([c.usage async for c in stream if c.usage is not None])
        await stack.settle()

        told = [a.usage for a in answers] + streamed
        report = await usage(stack.url)
        assert totals_of(report) == summed(told)
        assert report["exact"] is True
        by_tenant = {(g["tenant"], g["tier"]): g["requests"] for g in report["groups"]}
        assert by_tenant == {("acme", "fast"): 14, ("thrifty", "economy"): 4}
        assert report["total"]["charge_usd"] > 0 and report["total"]["gpu_cost_usd"] > 0
        assert report["total"]["cost_per_mtok_usd"] > 0

        metrics = await _metrics(stack)

        def total(name: str) -> float:
            return sum(v for (n, _), v in metrics.items() if n == name)

        assert total("tokengate_completion_tokens_total") == report["total"]["completion_tokens"]
        assert total("tokengate_prompt_tokens_total") == report["total"]["prompt_tokens"]
        assert abs(total("tokengate_charge_usd_total") - report["total"]["charge_usd"]) < 1e-9
        assert abs(total("tokengate_gpu_cost_usd_total") - report["total"]["gpu_cost_usd"]) < 1e-9
        labels = {dict(k[1])["tenant"] for k in metrics if k[0] == "tokengate_charge_usd_total"}
        assert labels == {"acme", "thrifty"}
        assert total("tokengate_backend_idle_cost_usd") > 0
        assert total("tokengate_reserved_gpu_seconds") > 0
        assert metrics[("tokengate_store_degraded", ())] == 0
        assert total("tokengate_usage_records_total") == 18

        only_fast = await usage(stack.url, tenant="acme", group_by="model,backend")
        assert only_fast["total"]["requests"] == 14
        assert {g["model"] for g in only_fast["groups"]} == {MODEL}
        assert {g["backend"] for g in only_fast["groups"]} <= {"sim0", "sim1"}
        assert sum(g["requests"] for g in only_fast["groups"]) == 14


async def test_streamed_and_whole_answers_meter_the_same_tokens_and_charge() -> None:
    async with gateway_stack(n_sims=1, patch=one_backend, time_scale=200) as stack:
        client = stack.client()
        whole = await client.completions.create(model=MODEL, prompt=IDS_1000, max_tokens=40)
        stream = await client.completions.create(
            model=MODEL,
            prompt=IDS_1000,
            max_tokens=40,
            stream=True,
            stream_options={"include_usage": True},
        )
        streamed = [c.usage async for c in stream if c.usage is not None]
        await stack.settle()

        assert whole.usage is not None and streamed == [whole.usage]
        _, records = await admin_get(stack.url, "/admin/usage/export")
        assert len(records) == 2
        a, b = sorted(records, key=lambda r: r["attribution"])
        assert (a["attribution"], b["attribution"]) == ("spread", "streamed")
        for field in ("prompt_tokens", "cached_tokens", "completion_tokens", "charge_nano"):
            assert a[field] == b[field], field
        assert a["usage_source"] == b["usage_source"] == "engine"
        assert (a["prompt_tokens"], a["completion_tokens"]) == (1000, 40)


async def test_worked_example_charge_and_gpu_cost() -> None:
    """1000 prompt + 500 output tokens: fast $0.60/$2.40 per 1M → $0.0018; economy $0.14/$0.28
    → $0.00028. The backend costs $2/GPU-hour: a request's cost is its GPU-seconds at that
    rate, and once nothing runs, the busy cost is exactly the sum of the requests' costs."""
    async with gateway_stack(n_sims=1, patch=one_backend, time_scale=100) as stack:
        for tier in ("fast", "economy"):
            out = await stack.client(KEYS[tier]).completions.create(
                model=MODEL, prompt=IDS_1000, max_tokens=500
            )
            assert out.usage is not None
            assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (1000, 500)
        await stack.settle()

        _, records = await admin_get(stack.url, "/admin/usage/export")
        charge = {r["tier"]: r["charge_nano"] for r in records}
        assert charge == {"fast": 1_800_000, "economy": 280_000}
        report = await usage(stack.url, group_by="tier")
        assert {g["tier"]: g["charge_usd"] for g in report["groups"]} == {
            "fast": 0.0018,
            "economy": 0.00028,
        }
        for r in records:
            assert r["gpu_seconds"] > 0 and r["gpu_seconds"] <= r["e2e_ms"] / 1000
            dollars_per_gpu_second = 2.0 / 3600
            assert abs(r["gpu_cost_nano"] - r["gpu_seconds"] * dollars_per_gpu_second * 1e9) <= 1

        meter = stack.gateway.recorder.meters["sim0"]
        totals = meter.totals(time.monotonic())
        assert totals.in_flight == 0
        assert totals.busy_cost_nano == sum(r["gpu_cost_nano"] for r in records)
        assert totals.idle_cost_nano > 0


async def test_a_client_that_leaves_mid_stream_is_metered_once_for_what_was_generated() -> None:
    # time_scale 1: 1500 tokens take seconds, so the client leaves mid-stream.
    async with gateway_stack(n_sims=1, patch=one_backend, time_scale=1.0) as stack:
        stream = await stack.client().chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Write a long story"}],
            max_tokens=1500,
            stream=True,
        )
        seen = 0
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                seen += 1
                if seen == 5:
                    break
        await stream.close()
        sim = stack.sims[0]
        await sim.wait_for(lambda: not sim.engine.has_work)  # the engine stopped generating
        await stack.settle()

        _, records = await admin_get(stack.url, "/admin/usage/export")
        assert len(records) == 1
        (r,) = records
        assert r["status"] == "client_disconnect"
        assert r["usage_source"] == "counted"
        assert 5 <= r["completion_tokens"] < 1500
        assert r["prompt_tokens"] > 0 and r["charge_nano"] > 0 and r["gpu_cost_nano"] > 0
        metrics = await _metrics(stack)
        assert metrics[("tokengate_usage_records_total", (("result", "applied"),))] == 1
        assert ("tokengate_usage_records_total", (("result", "duplicate"),)) not in metrics


async def test_an_engine_dying_mid_stream_is_billed_for_what_was_generated() -> None:
    async with gateway_stack(n_sims=1, patch=one_backend, time_scale=1.0) as stack:
        stream = await stack.client().chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Write a long story"}],
            max_tokens=1500,
            stream=True,
        )
        seen = 0
        with pytest.raises(openai.APIError):
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    seen += 1
                    if seen == 5:
                        await stack.sims[0].kill()
        await stack.settle()

        _, records = await admin_get(stack.url, "/admin/usage/export")
        (r,) = records
        assert r["status"] == "upstream_error" and r["usage_source"] == "counted"
        assert seen <= r["completion_tokens"] < 1500
        assert r["charge_nano"] > 0


async def test_rejected_requests_count_but_are_not_billed() -> None:
    async with gateway_stack(n_sims=1, patch=one_backend, time_scale=200) as stack:
        bad = stack.client("sk-not-a-key")
        with pytest.raises(openai.AuthenticationError):
            await bad.chat.completions.create(model=MODEL, messages=[], max_tokens=2)
        with pytest.raises(openai.BadRequestError):
            await stack.client().chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=10**6
            )
        await stack.settle()
        report = await usage(stack.url)
        assert report["total"]["requests"] == 0
        metrics = await _metrics(stack)
        statuses = {
            dict(labels)["status"]: v
            for (name, labels), v in metrics.items()
            if name == "tokengate_requests_total"
        }
        assert statuses == {"401": 1, "400": 1}


async def test_admin_usage_validates_its_parameters_and_needs_the_admin_key() -> None:
    async with gateway_stack(n_sims=1, patch=one_backend, time_scale=200) as stack:
        for params, param in (
            ({"since": "yesterday"}, "since"),
            ({"since": "10", "until": "5"}, "until"),
            ({"group_by": "tenant,colour"}, "group_by"),
        ):
            status, body = await admin_get(stack.url, "/admin/usage", **params)
            assert status == 400 and body["error"]["param"] == param, body
        status, body = await admin_get(stack.url, "/admin/usage", group_by="")
        assert status == 200 and body["groups"] == [] and body["total"]["requests"] == 0
        tenant = {"Authorization": f"Bearer {KEYS['fast']}"}
        async with aiohttp.ClientSession() as s:
            for path in ("/admin/usage", "/admin/usage/export", "/admin/state"):
                async with s.get(stack.url + path, headers=tenant) as resp:
                    assert resp.status == 403, path
                    assert (await resp.json())["error"]["code"] == "admin_required"


async def test_admin_state_shows_slots_per_tier_cost_and_store() -> None:
    async with gateway_stack(n_sims=1, patch=one_backend, time_scale=1.0) as stack:
        stream = await stack.client(KEYS["internal"]).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "go"}], max_tokens=1500, stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                break
        status, state = await admin_get(stack.url, "/admin/state")
        assert status == 200 and state["gpus"] == 1
        sim0 = state["backends"]["sim0"]
        assert sim0["slots_by_tier"] == {"internal": 1}
        assert sim0["reserve_in_use"] == {"reserved": 1, "borrowed": 0}
        assert sim0["cost"]["reserved_gpu_seconds"] > 0
        assert state["store"]["kind"] == "memory" and state["store"]["healthy"] is True
        await stream.close()
        await stack.settle()


async def _metrics(stack: Stack) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with aiohttp.ClientSession() as s, s.get(stack.url + "/metrics") as resp:
        text = await resp.text()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out
