"""Operations: /healthz and /readyz follow backend health; every response carries its
request id; successful answers say tier, backend and queue time; /metrics after traffic."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.stack import KEYS, MODEL, Stack, gateway_stack

HELLO = [{"role": "user", "content": "Hello"}]


async def _get(stack: Stack, path: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.get(stack.url + path) as resp:
        assert resp.headers["x-request-id"].startswith("req_")
        return resp.status, await resp.json()


async def _all_down(stack: Stack) -> None:
    """Probe until the hysteresis (``unhealthy_after``) marks every backend down."""
    while any(b.healthy for b in stack.gateway.backends.values()):
        await stack.gateway.health.probe_all()


async def test_healthz_and_readyz_follow_the_backends() -> None:
    async with gateway_stack(n_sims=2, time_scale=200) as stack:
        status, body = await _get(stack, "/healthz")
        assert status == 200 and body["status"] == "ok"
        status, body = await _get(stack, "/readyz")
        assert status == 200 and body["backends"] == {"sim0": True, "sim1": True}

        await stack.sims[0].kill()
        await _all_down_one(stack, "sim0")
        status, body = await _get(stack, "/readyz")
        assert status == 200 and body["backends"] == {"sim0": False, "sim1": True}
        # one backend down: requests still succeed on the other
        for stream in (False, True):
            raw = await stack.client().chat.completions.with_raw_response.create(
                model=MODEL, messages=HELLO, max_tokens=2, stream=stream
            )
            assert raw.headers["x-tokengate-backend"] == "sim1"
            if stream:
                assert [c async for c in raw.parse()]  # read to the end: frees the connection

        await stack.sims[1].kill()
        await _all_down(stack)
        status, body = await _get(stack, "/readyz")
        assert status == 503 and body["status"] == "unavailable"
        status, _ = await _get(stack, "/healthz")
        assert status == 200  # alive, just not ready

        for sim in stack.sims:
            await sim.restart()
        await stack.gateway.health.probe_all()
        status, body = await _get(stack, "/readyz")
        assert status == 200 and all(body["backends"].values())
        ok = await stack.client().chat.completions.create(model=MODEL, messages=HELLO, max_tokens=2)
        assert ok.choices[0].message.content


async def _all_down_one(stack: Stack, name: str) -> None:
    while stack.backend(name).healthy:
        await stack.gateway.health.probe_all()


async def test_success_headers_whole_and_streamed() -> None:
    async with gateway_stack(n_sims=1, time_scale=200) as stack:
        for key, tier in ((KEYS["fast"], "fast"), (KEYS["internal"], "internal")):
            client = stack.client(key)
            for stream in (False, True):
                raw = await client.chat.completions.with_raw_response.create(
                    model=MODEL, messages=HELLO, max_tokens=2, stream=stream
                )
                h = raw.headers
                assert h["x-request-id"].startswith("req_")
                assert h["x-tokengate-tier"] == tier
                assert h["x-tokengate-backend"] == "sim0"
                assert float(h["x-tokengate-queue-ms"]) >= 0
                if stream:
                    assert h["content-type"].startswith("text/event-stream")
                    assert [c async for c in raw.parse()]
            raw = await client.completions.with_raw_response.create(
                model=MODEL, prompt="Hi", max_tokens=2
            )
            assert raw.headers["x-tokengate-tier"] == tier
        # request ids are unique
        ids = set()
        for _ in range(3):
            raw = await stack.client().models.with_raw_response.list()
            ids.add(raw.headers["x-request-id"])
        assert len(ids) == 3


def _samples(text: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


async def test_metrics_after_traffic() -> None:
    async with gateway_stack(n_sims=2, time_scale=200) as stack:
        client = stack.client()
        await client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=3)
        stream = await client.chat.completions.create(
            model=MODEL, messages=HELLO, max_tokens=3, stream=True
        )
        assert [c async for c in stream]
        await stack.settle()
        async with aiohttp.ClientSession() as s, s.get(stack.url + "/metrics") as resp:
            assert resp.status == 200
            assert resp.headers["content-type"].startswith("text/plain")
            samples = _samples(await resp.text())

        def value(name: str, **labels: str) -> float:
            hits = [
                s
                for s in samples.get(name, [])
                if all(s.labels.get(k) == v for k, v in labels.items())
            ]
            assert hits, f"{name}{labels} not exported"
            return sum(s.value for s in hits)

        assert value("tokengate_requests_total", model=MODEL, tier="fast", status="200") == 2
        for hist in (
            "tokengate_ttft_seconds",
            "tokengate_queue_wait_seconds",
            "tokengate_e2e_seconds",
        ):
            assert value(f"{hist}_count", model=MODEL, tier="fast") == 2
            assert value(f"{hist}_bucket", model=MODEL, tier="fast", le="+Inf") == 2
        for backend in ("sim0", "sim1"):
            assert value("tokengate_backend_up", backend=backend) == 1
            assert value("tokengate_backend_inflight", backend=backend) == 0
        assert "tokengate_queue_depth" in samples
