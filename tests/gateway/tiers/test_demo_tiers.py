"""The built-in demo sells the three tiers the design describes, and its config says so."""

from __future__ import annotations

from gateway.config.demo import DEMO_KEYS, DEMO_MODEL, demo_config
from gateway.scheduling.build import scheduler_policies
from policies.batch.continuous import ContinuousBatcher
from policies.batch.window import WindowBatcher


def test_demo_tiers_fast_economy_internal_and_a_quarter_reserved() -> None:
    cfg = demo_config(["http://127.0.0.1:1", "http://127.0.0.1:2"])
    fast, economy, internal = (cfg.tiers[n] for n in ("fast", "economy", "internal"))

    assert fast.min_ttft_ms == 0 and fast.max_context == 128 * 1024
    assert fast.batch["policy"] == "continuous" and not fast.use_reserve

    assert economy.min_ttft_ms == 2000 and economy.max_context == 64 * 1024
    assert economy.batch["policy"] == "window" and not economy.use_reserve
    assert economy.batch["max_wait_ms"] <= economy.min_ttft_ms  # the window fits in the floor

    assert internal.use_reserve
    assert internal.prices.input == internal.prices.output == 0

    # premium price and priority for fast; economy is the cheap one
    assert fast.priority > internal.priority > economy.priority
    assert fast.prices.input > economy.prices.input and fast.prices.output > economy.prices.output
    assert cfg.scheduler.queue["policy"] == "priority"

    for b in cfg.backends:
        assert b.reserve == 0.25
        assert b.capacity - b.general_slots == b.capacity // 4

    keys = {k.tier: k for k in cfg.keys if not k.admin}
    assert set(keys) == {"fast", "economy", "internal"}
    assert {k.key for k in cfg.keys} == set(DEMO_KEYS.values())

    policies = scheduler_policies(cfg, DEMO_MODEL)
    assert isinstance(policies.batchers["fast"], ContinuousBatcher)
    assert isinstance(policies.batchers["economy"], WindowBatcher)
    # economy spends most of its floor queued (gated), not holding a slot
    assert policies.holds == {"economy": 1.5}  # floor 2 s, lead 0.5 s
