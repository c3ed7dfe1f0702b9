"""Continuous batching as a pure state machine: vLLM V1's scheduler, one step at a time.

The clock stays outside. Callers ``add`` and ``abort`` sequences and call ``step(now)``, which
plans one forward pass, prices it with the roofline (``model.py``), commits its effects, and
returns what leaves the GPU at ``now + duration``. The HTTP server drives it in real time, the
calibration harness (``virtual.py``) in virtual time; neither sleeps in here.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from enum import Enum

from loadtest.sim.model import BatchShape, StepModel, step_time


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Scheduler limits, named as vLLM's engine arguments."""

    max_num_seqs: int = 256  # sequences in the running batch
    max_num_batched_tokens: int = 8192  # tokens per step; longer prompts are chunked
    block_size: int = 16  # tokens per KV-cache block (vLLM's CUDA default)
    num_kv_blocks: int = 25_000  # KV-cache capacity in blocks
    max_model_len: int = 131072  # prompt + output tokens of one sequence
    jitter: float = 0.03  # step times vary uniformly by ± this share, seeded

    @property
    def kv_tokens(self) -> int:
        return self.num_kv_blocks * self.block_size


class SeqStatus(Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"
    ABORTED = "aborted"


@dataclass(slots=True, eq=False)
class Seq:
    """One request inside the engine. ``computed`` counts tokens whose KV is in the cache."""

    id: str
    prompt_tokens: int
    max_tokens: int
    arrival: float
    computed: int = 0
    generated: int = 0
    blocks: int = 0
    status: SeqStatus = SeqStatus.WAITING
    first_token_at: float | None = None
    finished_at: float | None = None
    preemptions: int = 0

    @property
    def num_tokens(self) -> int:
        """Prompt plus every token sampled so far (the last one is not yet in the KV cache)."""
        return self.prompt_tokens + self.generated


@dataclass(frozen=True, slots=True)
class StepResult:
    """One forward pass: when it started, how long it took, and who got a token at its end."""

    start: float
    duration: float
    emitted: tuple[Seq, ...]  # each gets exactly one new token at ``end``
    finished: tuple[Seq, ...]  # the emitted ones that reached ``max_tokens``
    batch: BatchShape
    preempted: int = 0

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(slots=True)
class EngineCounters:
    """Monotonic totals, exported as vLLM's ``*_total`` counters."""

    prompt_tokens: int = 0  # prompt tokens of requests whose prefill completed
    generation_tokens: int = 0
    finished: int = 0
    aborted: int = 0
    preemptions: int = 0
    steps: int = 0
    busy_seconds: float = 0.0  # simulated seconds spent inside steps
    scheduled_tokens: int = 0


@dataclass(slots=True)
class Engine:
    """Continuous-batching scheduler with chunked prefill, paged KV blocks and recompute preemption.

    Each step, as vLLM V1 does: running sequences first (a decode wants one token, a partly
    prefilled prompt wants its next chunk), then waiting ones in FIFO order while the batch has
    room (``max_num_seqs``), the step has token budget (``max_num_batched_tokens``) and the KV
    cache has blocks. A waiting request whose blocks do not fit blocks the queue behind it
    (no skipping), and when a running sequence cannot grow, the most recently admitted one is
    preempted: its blocks are freed and it is re-queued first, to be recomputed.
    ``step_model=None`` makes every step take zero time (proxy-overhead benchmarks).
    """

    config: EngineConfig = field(default_factory=EngineConfig)
    step_model: StepModel | None = None
    seed: int = 0
    counters: EngineCounters = field(default_factory=EngineCounters)
    waiting: deque[Seq] = field(default_factory=deque)
    running: list[Seq] = field(default_factory=list)
    free_blocks: int = field(init=False)
    _by_id: dict[str, Seq] = field(default_factory=dict)
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.free_blocks = self.config.num_kv_blocks
        self._rng = random.Random(self.seed)

    # -- what callers see ---------------------------------------------------------------------

    @property
    def num_running(self) -> int:
        return len(self.running)

    @property
    def num_waiting(self) -> int:
        return len(self.waiting)

    @property
    def has_work(self) -> bool:
        return bool(self.running or self.waiting)

    @property
    def kv_cache_usage(self) -> float:
        """Share of KV blocks in use, 0..1 (``vllm:kv_cache_usage_perc``)."""
        total = self.config.num_kv_blocks
        return (total - self.free_blocks) / total

    def get(self, seq_id: str) -> Seq | None:
        return self._by_id.get(seq_id)

    # -- inputs -------------------------------------------------------------------------------

    def add(self, seq_id: str, prompt_tokens: int, max_tokens: int, now: float) -> Seq:
        """Queue a request; raises ValueError for one the engine could never run."""
        cfg = self.config
        if prompt_tokens < 1 or max_tokens < 1:
            raise ValueError("prompt_tokens and max_tokens must be at least 1")
        if prompt_tokens + max_tokens > cfg.max_model_len:
            raise ValueError(f"{prompt_tokens} + {max_tokens} tokens exceed {cfg.max_model_len}")
        if prompt_tokens + max_tokens > cfg.kv_tokens:
            raise ValueError(f"{prompt_tokens + max_tokens} tokens exceed the KV cache")
        if seq_id in self._by_id:
            raise ValueError(f"duplicate sequence id {seq_id!r}")
        seq = Seq(id=seq_id, prompt_tokens=prompt_tokens, max_tokens=max_tokens, arrival=now)
        self._by_id[seq_id] = seq
        self.waiting.append(seq)
        return seq

    def abort(self, seq_id: str) -> bool:
        """Drop a sequence wherever it is and free its blocks; False if it is already gone."""
        seq = self._by_id.pop(seq_id, None)
        if seq is None:
            return False
        if seq.status is SeqStatus.RUNNING:
            self.running.remove(seq)
        elif seq.status is SeqStatus.WAITING:
            self.waiting.remove(seq)
        self.free_blocks += seq.blocks
        seq.blocks = 0
        seq.status = SeqStatus.ABORTED
        self.counters.aborted += 1
        return True

    def abort_all(self) -> int:
        """Drop everything, as a crashed engine loses its batch; returns how many were dropped."""
        ids = list(self._by_id)
        for seq_id in ids:
            self.abort(seq_id)
        return len(ids)

    # -- the step -----------------------------------------------------------------------------

    def step(self, now: float) -> StepResult | None:
        """Plan, price and commit one forward pass starting at ``now``; None when idle.

        State changes at once (finished sequences leave the batch and free their blocks); the
        tokens are what the caller hands out at ``result.end``. Requests added meanwhile wait
        for the next step, as they would in vLLM.
        """
        if not self.has_work:
            return None
        scheduled, preempted = self._schedule()
        batch = _batch_shape(scheduled)
        duration = self._duration(batch)
        end = now + duration
        emitted: list[Seq] = []
        finished: list[Seq] = []
        counters = self.counters
        for seq, n in scheduled:
            seq.computed += n
            if seq.computed < seq.prompt_tokens + seq.generated:
                continue  # a chunk of a longer prefill: no token yet
            seq.generated += 1
            emitted.append(seq)
            if seq.first_token_at is None:
                seq.first_token_at = end
                counters.prompt_tokens += seq.prompt_tokens
            if seq.generated >= seq.max_tokens:
                finished.append(seq)
        counters.generation_tokens += len(emitted)
        counters.steps += 1
        counters.busy_seconds += duration
        counters.scheduled_tokens += batch.tokens
        if finished:
            for seq in finished:
                seq.status = SeqStatus.FINISHED
                seq.finished_at = end
                self.free_blocks += seq.blocks
                seq.blocks = 0
                del self._by_id[seq.id]
            counters.finished += len(finished)
            self.running = [s for s in self.running if s.status is SeqStatus.RUNNING]
        return StepResult(now, duration, tuple(emitted), tuple(finished), batch, preempted)

    def _schedule(self) -> tuple[list[tuple[Seq, int]], int]:
        cfg = self.config
        budget = cfg.max_num_batched_tokens
        scheduled: list[tuple[Seq, int]] = []
        preempted = 0
        i = 0
        while i < len(self.running) and budget > 0:
            seq = self.running[i]
            n = min(seq.prompt_tokens + seq.generated - seq.computed, budget)
            need = self._blocks_for(seq.computed + n) - seq.blocks
            while need > self.free_blocks:
                victim = self.running.pop()  # FCFS: the newest admitted yields first
                self._preempt(victim)
                preempted += 1
                if victim is seq:
                    break
            if seq.status is not SeqStatus.RUNNING:
                break
            self.free_blocks -= need
            seq.blocks += need
            scheduled.append((seq, n))
            budget -= n
            i += 1
        # vLLM V1 admits nobody in a step that had to preempt: memory is already short.
        while (
            not preempted and self.waiting and budget > 0 and len(self.running) < cfg.max_num_seqs
        ):
            seq = self.waiting[0]
            n = min(seq.prompt_tokens + seq.generated - seq.computed, budget)
            need = self._blocks_for(n)
            if need > self.free_blocks:
                break  # head-of-line: the queue waits for this one
            self.waiting.popleft()
            self.free_blocks -= need
            seq.blocks = need
            seq.status = SeqStatus.RUNNING
            self.running.append(seq)
            scheduled.append((seq, n))
            budget -= n
        return scheduled, preempted

    def _preempt(self, seq: Seq) -> None:
        self.free_blocks += seq.blocks
        seq.blocks = 0
        seq.computed = 0  # recompute: prompt and generated tokens are prefilled again
        seq.status = SeqStatus.WAITING
        seq.preemptions += 1
        self.counters.preemptions += 1
        self.waiting.appendleft(seq)

    def _blocks_for(self, tokens: int) -> int:
        return -(-tokens // self.config.block_size)

    def _duration(self, batch: BatchShape) -> float:
        if self.step_model is None:
            return 0.0
        base = step_time(self.step_model, batch)
        jitter = self.config.jitter
        return base * (1.0 + self._rng.uniform(-jitter, jitter)) if jitter else base


def _batch_shape(scheduled: list[tuple[Seq, int]]) -> BatchShape:
    """Split the step into decodes (one token after the first) and prefill chunks."""
    n_decode = 0
    context = 0
    prefill: list[tuple[int, int]] = []
    for seq, n in scheduled:
        if n == 1 and seq.generated > 0:
            n_decode += 1
            context += seq.computed + 1
        else:
            prefill.append((n, seq.computed))
    return BatchShape(n_decode=n_decode, decode_context_tokens=context, prefill=tuple(prefill))
