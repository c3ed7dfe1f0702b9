"""vLLM-named Prometheus metrics of one simulated engine, read from the engine at scrape time.

Each server owns its registry (several simulators share a process, so never the global one);
the collector reads the engine's state and counters when scraped, so steps pay nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from loadtest.sim.engine import Engine

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class EngineCollector(Collector):
    """Gauges and counters under vLLM's names, labelled by ``model_name`` as vLLM does."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        finish_reasons: Callable[[], dict[str, int]],
        model_name: str,
    ) -> None:
        self._engine = engine
        self._finish_reasons = finish_reasons
        self._labels = [model_name]

    def collect(self) -> Iterator[Metric]:
        e = self._engine()
        c = e.counters
        labels = ["model_name"]
        for name, doc, value in (
            ("vllm:num_requests_running", "Requests in the running batch.", e.num_running),
            ("vllm:num_requests_waiting", "Requests waiting to be scheduled.", e.num_waiting),
            ("vllm:kv_cache_usage_perc", "KV-cache usage; 1 means 100 percent.", e.kv_cache_usage),
        ):
            g = GaugeMetricFamily(name, doc, labels=labels)
            g.add_metric(self._labels, value)
            yield g
        for name, doc, value in (
            ("vllm:prompt_tokens", "Prefilled prompt tokens.", c.prompt_tokens),
            ("vllm:generation_tokens", "Generated tokens.", c.generation_tokens),
            ("vllm:num_preemptions", "Preempted sequences.", c.preemptions),
        ):
            m = CounterMetricFamily(name, doc, labels=labels)
            m.add_metric(self._labels, value)
            yield m
        done = CounterMetricFamily(
            "vllm:request_success", "Finished requests.", labels=[*labels, "finished_reason"]
        )
        for reason, count in sorted(self._finish_reasons().items()):
            done.add_metric([*self._labels, reason], count)
        yield done
        aborted = CounterMetricFamily("vllm:request_aborted", "Aborted requests.", labels=labels)
        aborted.add_metric(self._labels, c.aborted)
        yield aborted


def engine_registry(
    engine: Callable[[], Engine], finish_reasons: Callable[[], dict[str, int]], model_name: str
) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(engine, finish_reasons, model_name))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
