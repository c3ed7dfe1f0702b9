"""Gateway replicas as real processes (``python -m gateway serve --config FILE``) sharing Redis,
in front of simulated GPUs that the test process runs and can observe."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import openai
import yaml

ROOT = Path(__file__).resolve().parents[3]
_LISTENING = re.compile(rb"tokengate listening on (http://[\d.]+:\d+)")


@dataclass
class Replica:
    proc: asyncio.subprocess.Process
    url: str
    log: list[bytes] = field(default_factory=list)
    drain: asyncio.Task[None] | None = None

    def client(self, key: str) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.url + "/v1", api_key=key, max_retries=0, timeout=60)


def replica_config(tree: dict[str, Any], redis_url: str, namespace: str, spool: Path) -> dict:
    state = {
        "kind": "redis",
        "redis_url": redis_url,
        "namespace": namespace,
        "spool_path": str(spool),
        "replicas": 2,
        "connect_timeout_s": 2.0,  # generous: shared cores must not look like an outage
        "socket_timeout_s": 2.0,
        "lease_ttl_s": 3.0,
    }
    return {**tree, "state": state}


async def _start(config_file: Path) -> Replica:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "serve",
        "--config",
        str(config_file),
        "--port",
        "0",
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stderr is not None
    log: list[bytes] = []
    while True:
        line = await asyncio.wait_for(proc.stderr.readline(), 90)
        if not line:
            raise AssertionError("gateway exited before listening:\n" + b"".join(log).decode())
        log.append(line)
        if m := _LISTENING.search(line):
            break
    replica = Replica(proc, m.group(1).decode(), log)

    async def drain() -> None:  # keep the pipe from filling; keep the lines for a failure
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            log.append(line)

    replica.drain = asyncio.ensure_future(drain())
    return replica


async def _stop(replica: Replica) -> None:
    proc = replica.proc
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    if replica.drain is not None:
        await replica.drain


@contextlib.asynccontextmanager
async def replicas(
    tree: dict[str, Any], redis_url: str, workdir: Path, n: int = 2
) -> AsyncIterator[list[Replica]]:
    """``n`` gateway processes on one config tree, one Redis namespace, a spool each."""
    namespace = f"t{uuid4().hex[:12]}"
    files = []
    for i in range(n):
        path = workdir / f"gateway-{i}.yaml"
        config = replica_config(tree, redis_url, namespace, workdir / f"replica-{i}.spool")
        path.write_text(yaml.safe_dump(config))
        files.append(path)
    started: list[Replica] = []
    try:
        results = await asyncio.gather(*(_start(f) for f in files), return_exceptions=True)
        started = [r for r in results if isinstance(r, Replica)]
        for r in results:
            if isinstance(r, BaseException):
                raise r
        yield started
    finally:
        await asyncio.gather(*(_stop(r) for r in started))
