"""The built-in demo: two simulated H100s, one model, three tiers, fixed keys. No file needed."""

from __future__ import annotations

import math

from gateway.config.loader import parse_config
from gateway.config.schema import GatewayConfig

DEMO_MODEL = "llama-3.1-8b"
DEMO_ENGINE_MODEL = "meta-llama/Llama-3.1-8B-Instruct"
DEMO_PRESET = "h100-llama3.1-8b"
DEMO_KEYS = {
    "fast": "sk-demo-fast",
    "economy": "sk-demo-economy",
    "internal": "sk-demo-internal",
    "admin": "sk-demo-admin",
}


GPU_HOUR_USD = 2.0


def demo_config(
    sim_urls: list[str], host: str = "127.0.0.1", port: int = 8080, time_scale: float = 1.0
) -> GatewayConfig:
    """The demo as a config tree, so it passes the same validation as a file would.

    Metering runs on the wall clock while the simulated GPUs run ``time_scale`` times faster,
    so a wall-clock hour buys ``time_scale`` GPU-hours of work: the price per wall hour is
    scaled with it, which keeps the metered cost per token that of a real H100 at $2/hour.
    """
    gpu_hour_usd = GPU_HOUR_USD * (time_scale if math.isfinite(time_scale) else 1.0)
    return parse_config(
        {
            "server": {"host": host, "port": port},
            "backends": [
                {
                    "name": f"sim-h100-{i}",
                    "url": url,
                    "models": {DEMO_MODEL: DEMO_ENGINE_MODEL},
                    "capacity": 64,
                    "gpus": 1,
                    "gpu_hour_usd": gpu_hour_usd,
                    "reserve": 0.25,
                    "health": {"interval_s": 2.0},
                }
                for i, url in enumerate(sim_urls)
            ],
            "models": {DEMO_MODEL: {"max_context": 131072}},
            "scheduler": {"queue": {"policy": "priority"}, "route": {"policy": "least_loaded"}},
            "tiers": {
                "fast": {
                    "prices": {"input": 0.60, "cached_input": 0.15, "output": 2.40},
                    "min_ttft_ms": 0,
                    "max_context": 131072,
                    "priority": 10,
                    "queue_timeout_ms": 30_000,
                    "batch": {"policy": "continuous"},
                },
                "economy": {
                    "prices": {"input": 0.14, "cached_input": 0.028, "output": 0.28},
                    "min_ttft_ms": 2000,
                    "dispatch_lead_ms": 500,  # queued 1.5 s of the floor, not holding a slot
                    "max_context": 65536,
                    "max_output_tokens_per_s": 40,
                    "priority": 0,
                    "queue_timeout_ms": 60_000,
                    "batch": {"policy": "window", "max_wait_ms": 1500, "min_batch": 16},
                },
                "internal": {
                    "prices": {"input": 0, "output": 0},
                    "priority": 5,
                    "use_reserve": True,
                    "queue_timeout_ms": 120_000,
                    "batch": {"policy": "continuous"},
                },
            },
            "keys": [
                {"key": DEMO_KEYS["fast"], "tenant": "acme", "tier": "fast"},
                {"key": DEMO_KEYS["economy"], "tenant": "thrifty", "tier": "economy"},
                {"key": DEMO_KEYS["internal"], "tenant": "research", "tier": "internal"},
                {"key": DEMO_KEYS["admin"], "admin": True},
            ],
        },
        env={},
        source="demo",
    )
