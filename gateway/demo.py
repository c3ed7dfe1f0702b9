"""``tokengate serve --demo``: the gateway in front of two in-process simulated H100s."""

from __future__ import annotations

import logging

from gateway.config.demo import DEMO_ENGINE_MODEL, DEMO_KEYS, DEMO_MODEL, DEMO_PRESET, demo_config

log = logging.getLogger("tokengate")


async def run_demo(host: str, port: int, time_scale: float) -> int:
    from gateway.server import serve_forever, start_gateway
    from loadtest.sim.server import SimServer

    sims = [
        SimServer(preset=DEMO_PRESET, model=DEMO_ENGINE_MODEL, time_scale=time_scale, seed=i)
        for i in range(2)
    ]
    for sim in sims:
        await sim.start()
    try:
        cfg = demo_config([s.url for s in sims], host, port, time_scale)
        running = await start_gateway(cfg, host, port)
        print(banner(running.url, time_scale), flush=True)
        await serve_forever(running)
    finally:
        for sim in sims:
            await sim.stop()
    return 0


def banner(url: str, time_scale: float) -> str:
    speed = "real time" if time_scale == 1 else f"{time_scale:g}x real time"
    return f"""
tokengate demo on {url}  —  2 simulated H100s ({DEMO_PRESET}, {speed}), model '{DEMO_MODEL}'

  tier       key                 what it buys
  fast       {DEMO_KEYS["fast"]:<18}  no TTFT floor, 128K context, premium price
  economy    {DEMO_KEYS["economy"]:<18}  2 s TTFT floor, window batching, 64K context, cheap
  internal   {DEMO_KEYS["internal"]:<18}  the reserved 25 % of each GPU, no charge
  admin      {DEMO_KEYS["admin"]:<18}  /admin/state, /admin/usage

Try it:
  curl -s {url}/v1/chat/completions -H 'Authorization: Bearer {DEMO_KEYS["fast"]}' \\
    -H 'Content-Type: application/json' \\
    -d '{{"model": "{DEMO_MODEL}", "messages": [{{"role": "user", "content": "Hello!"}}]}}'

  python - <<'EOF'
from openai import OpenAI
client = OpenAI(base_url="{url}/v1", api_key="{DEMO_KEYS["economy"]}")
hi = [{{"role": "user", "content": "Hi"}}]
reply = client.chat.completions.create(model="{DEMO_MODEL}", messages=hi)
print(reply.choices[0].message.content)
EOF
"""
