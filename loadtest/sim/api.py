"""The simulator's OpenAI-compatible HTTP endpoints, shaped like vLLM's API server.

Thin handlers: parse (``protocol.py``), plan the text (``text.py``), submit to the step loop
(``stepper.py``), then relay tokens as they leave each step (``responses.py``). A handler whose
client leaves is cancelled (the runner has ``handler_cancellation=True``) and aborts its sequence.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from loadtest.sim import responses
from loadtest.sim.metrics import CONTENT_TYPE, exposition
from loadtest.sim.protocol import ApiError, Job, Limits, parse_chat, parse_completion
from loadtest.sim.stepper import EngineStopped, RealTimeStepper, TokenChannel
from loadtest.sim.text import Completion, plan_completion
from loadtest.sim.tokens import PromptCounter

Parser = Callable[[dict[str, Any], PromptCounter, Limits, int], Job]


@dataclass(frozen=True, slots=True)
class ApiSettings:
    models: tuple[str, ...]
    limits: Limits
    frontend_s: float  # simulated seconds before a request reaches the engine
    seed: int = 0
    api_key: str | None = None


@dataclass(slots=True)
class Faults:
    """``fail_next``: the next ``pending`` generation requests get ``status``."""

    pending: int = 0
    status: int = 500

    def take(self) -> int | None:
        if self.pending <= 0:
            return None
        self.pending -= 1
        return self.status


class SimApi:
    """Route handlers over one step loop; holds no state that a restart must rebuild."""

    def __init__(
        self,
        settings: ApiSettings,
        stepper: RealTimeStepper,
        registry: CollectorRegistry,
        faults: Faults,
        counter: PromptCounter | None = None,
    ) -> None:
        self.settings = settings
        self.stepper = stepper
        self.registry = registry
        self.faults = faults
        self.counter = counter or PromptCounter()
        self.finish_reasons: Counter[str] = Counter()
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(6).hex()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/completions", self.completions)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/health", self.health)
        app.router.add_get("/metrics", self.metrics)

    async def chat(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, parse_chat, "chatcmpl-")

    async def completions(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, parse_completion, "cmpl-")

    async def models(self, request: web.Request) -> web.StreamResponse:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        body = responses.model_list(
            list(self.settings.models), int(time.time()), self.settings.limits.max_model_len
        )
        return web.Response(body=body, content_type="application/json")

    async def health(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=200 if self.stepper.running else 503)

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=exposition(self.registry), headers={"Content-Type": CONTENT_TYPE})

    # -- generation -----------------------------------------------------------------------

    async def _generate(
        self, request: web.Request, parse: Parser, prefix: str
    ) -> web.StreamResponse:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        try:
            if (status := self.faults.take()) is not None:
                raise ApiError(status, f"simulated failure (HTTP {status})")
            body = _decode(await request.read())
            model = body.get("model")
            if model not in self.settings.models:
                raise ApiError(404, f"The model `{model}` does not exist.", "model")
            job = parse(body, self.counter, self.settings.limits, self.settings.seed)
        except ApiError as e:
            return _error(e)
        plan = plan_completion(job.seed, job.max_tokens, job.stop, job.finish_reason)
        delay = self.settings.frontend_s / self.stepper.time_scale
        if delay > 0:
            await asyncio.sleep(delay)  # the API server's share of TTFT: modelled, not polled
        seq_id = f"{prefix}{self._id_prefix}{next(self._ids):x}"
        try:
            channel = self.stepper.submit(seq_id, job.prompt_tokens, plan.tokens, job.stream)
        except ValueError as e:
            return _error(ApiError(400, str(e)))
        except EngineStopped as e:
            return _error(ApiError(503, str(e)))
        done = False
        try:
            if job.stream:
                response = await self._stream(request, seq_id, job, plan, channel)
            else:
                response = await self._whole(seq_id, job, plan, channel)
            done = True
            return response
        finally:
            if not done:
                self.stepper.cancel(seq_id)  # the client left (or we failed): free the GPU

    async def _whole(
        self, seq_id: str, job: Job, plan: Completion, channel: TokenChannel
    ) -> web.StreamResponse:
        try:
            await channel.take()
        except EngineStopped as e:
            return _error(ApiError(503, str(e)))
        self.finish_reasons[plan.finish_reason] += 1
        body = responses.completion_body(
            job.kind,
            seq_id,
            int(time.time()),
            job.model,
            text=plan.text,
            finish_reason=plan.finish_reason,
            prompt_tokens=job.prompt_tokens,
            completion_tokens=plan.tokens,
        )
        return web.Response(body=body, content_type="application/json")

    async def _stream(
        self, request: web.Request, seq_id: str, job: Job, plan: Completion, channel: TokenChannel
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
            }
        )
        try:
            await response.prepare(request)  # vLLM sends the headers before the first token
            await self._relay(response, seq_id, job, plan, channel)
        except ConnectionResetError:
            self.stepper.cancel(seq_id)  # the client left mid-stream: nobody to tell
        return response

    async def _relay(
        self,
        response: web.StreamResponse,
        seq_id: str,
        job: Job,
        plan: Completion,
        channel: TokenChannel,
    ) -> None:
        """Write each step's tokens as they arrive, one chunk per token, in one write per step."""
        enc = responses.ChunkEncoder(
            job.kind, seq_id, int(time.time()), job.model, job.include_usage
        )
        pieces = plan.pieces
        last = len(pieces) - 1
        sent = 0
        while True:
            try:
                n, finished = await channel.take()
            except EngineStopped as e:
                # In-band, as vLLM reports engine errors: a stream that stops looks like success.
                error = responses.dumps(ApiError(500, str(e)).body())
                await response.write(b"data: " + error + b"\n\n" + responses.DONE)
                return
            frames = [enc.role()] if sent == 0 else []
            for k in range(sent, sent + n):
                frames.append(
                    enc.last_token(pieces[k], plan.finish_reason)
                    if k == last
                    else enc.token(pieces[k])
                )
            sent += n
            if finished:
                self.finish_reasons[plan.finish_reason] += 1
                if job.include_usage:
                    frames.append(enc.usage(job.prompt_tokens, plan.tokens))
                frames.append(responses.DONE)
            await response.write(b"".join(frames))
            if finished:
                await response.write_eof()
                return

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        key = self.settings.api_key
        if key is None or request.headers.get("Authorization") == f"Bearer {key}":
            return None
        # vLLM's --api-key middleware answers exactly this (not the OpenAI error shape).
        return web.Response(
            status=401, body=b'{"error":"Unauthorized"}', content_type="application/json"
        )


def _decode(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "Invalid JSON in the request body") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object")
    return body


def _error(e: ApiError) -> web.Response:
    return web.Response(
        status=e.status, body=responses.dumps(e.body()), content_type="application/json"
    )
