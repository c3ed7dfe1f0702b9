"""The two commands as an operator runs them: ``check-config`` and ``serve --demo``."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import openai
import pytest

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_ENV = {
    "ACME_KEY": "sk-acme-0123456789",
    "RESEARCH_KEY": "sk-research-0123456789",
    "ADMIN_KEY": "sk-admin-0123456789",
    "TOKENGATE_KEY": "sk-tokengate-0123456789",
}


def _tokengate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("example", sorted(p.name for p in (ROOT / "examples").glob("*.yaml")))
def test_check_config_accepts_the_examples(example: str) -> None:
    done = _tokengate("check-config", f"examples/{example}", env=EXAMPLE_ENV)
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout


def test_check_config_names_every_broken_field(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "backends:\n"
        "  - name: a\n"
        "    url: ftp://nowhere\n"
        "    models: [m]\n"
        "    capacity: 0\n"
        "tiers:\n"
        "  std: {min_ttft_ms: -5}\n"
    )
    done = _tokengate("check-config", str(broken))
    assert done.returncode != 0
    for path in ("backends[0].url", "backends[0].capacity", "tiers.std.min_ttft_ms"):
        assert path in done.stderr, done.stderr

    # Cross-references are checked once every section is well-typed.
    dangling = tmp_path / "dangling.yaml"
    dangling.write_text(
        "backends: [{name: a, url: 'http://x:1', models: [m]}]\n"
        "tiers: {std: {}}\n"
        "keys:\n"
        "  - {key: sk-test-0123456789, tenant: t, tier: gold}\n"
    )
    done = _tokengate("check-config", str(dangling))
    assert done.returncode != 0
    assert "keys[0].tier" in done.stderr, done.stderr
    assert "sk-test-0123456789" not in done.stderr + done.stdout

    missing = _tokengate("check-config", str(tmp_path / "nope.yaml"))
    assert missing.returncode != 0


async def test_serve_demo_on_port_zero_prints_the_bound_port_and_answers() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "serve",
        "--demo",
        "--port",
        "0",
        "--demo-time-scale",
        "100",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        url = None
        while url is None:
            line = await asyncio.wait_for(proc.stdout.readline(), 90)
            assert line, "the demo exited before printing its banner"
            if m := re.search(rb"tokengate demo on (http://[\d.]+:(\d+))", line):
                url = m.group(1).decode()
                assert int(m.group(2)) != 0
        client = openai.AsyncOpenAI(
            base_url=url + "/v1", api_key="sk-demo-fast", max_retries=0, timeout=60
        )
        try:
            models = await client.models.list()
            assert models.data
            out = await client.chat.completions.create(
                model=models.data[0].id, messages=[{"role": "user", "content": "Hi"}], max_tokens=3
            )
            assert out.choices[0].message.content
        finally:
            await client.close()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
