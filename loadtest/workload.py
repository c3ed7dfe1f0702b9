"""The seeded sequence of requests a run sends: tier, prompt and output length of each.

Request i is the same for a given seed whatever the profile, rate or server, so ``compare`` and
sweep steps offer identical work. Each random choice has its own stream (arrivals, tiers,
lengths, prompt text, dataset order), so changing one setting does not reshuffle the others.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from loadtest.config import RunConfig, Tier
from loadtest.dataset import DatasetPrompt, load_dataset
from loadtest.prompts import count_tokens, synthesize_prompt

_STREAMS = {
    "arrivals": 0,
    "tiers": 1,
    "prompt_lengths": 2,
    "output_lengths": 3,
    "text": 4,
    "dataset": 5,
}
_BLOCK = 256  # draws per refill; fixed so the sequence never depends on how much is consumed


def rng_for(seed: int, stream: str) -> np.random.Generator:
    """An independent generator per named stream of one seed."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_STREAMS[stream],)))


@dataclass(frozen=True, slots=True)
class RequestSpec:
    index: int
    tier: int  # position in RunConfig.tiers
    prompt: str
    prompt_tokens: int  # tokens of the prompt text (cl100k), before any chat framing
    output_tokens: int  # max_tokens sent (and min_tokens with ignore_eos)


def tier_choices(tiers: Sequence[Tier], rng: np.random.Generator, n: int) -> np.ndarray:
    """Tier positions drawn in proportion to the shares."""
    shares = np.array([t.share for t in tiers], dtype=float)
    return rng.choice(len(tiers), size=n, p=shares / shares.sum())


class Workload:
    """An endless, deterministic iterator of ``RequestSpec``; take as many as the run needs."""

    def __init__(self, config: RunConfig, dataset: Sequence[DatasetPrompt] | None = None) -> None:
        self._config = config
        seed = config.seed
        self._rngs = {k: rng_for(seed, k) for k in ("tiers", "prompt_lengths", "output_lengths")}
        self._text_rng = rng_for(seed, "text")
        if dataset is None and config.dataset is not None:
            dataset = load_dataset(config.dataset)
        self._dataset = list(dataset) if dataset is not None else None
        self._dataset_rng = rng_for(seed, "dataset")
        self._dataset_tokens: dict[int, tuple[int, int | None]] = {}

    def __iter__(self) -> Iterator[RequestSpec]:
        cfg = self._config
        order: np.ndarray = np.empty(0, dtype=np.int64)
        index = 0
        while True:
            tiers = tier_choices(cfg.tiers, self._rngs["tiers"], _BLOCK)
            prompt_lens = cfg.prompt_tokens.sample(self._rngs["prompt_lengths"], _BLOCK)
            output_lens = cfg.output_tokens.sample(self._rngs["output_lengths"], _BLOCK)
            for k in range(_BLOCK):
                if self._dataset is None:
                    n = int(prompt_lens[k])
                    prompt, out = synthesize_prompt(self._text_rng, n), int(output_lens[k])
                else:
                    if order.size == 0:  # a fresh shuffle each pass through the file
                        order = self._dataset_rng.permutation(len(self._dataset))
                    entry, order = int(order[0]), order[1:]
                    prompt, n, out = self._from_dataset(entry, int(output_lens[k]))
                yield RequestSpec(index, int(tiers[k]), prompt, n, out)
                index += 1

    def take(self, n: int) -> list[RequestSpec]:
        it = iter(self)
        return [next(it) for _ in range(n)]

    def _from_dataset(self, entry: int, drawn_output: int) -> tuple[str, int, int]:
        assert self._dataset is not None
        item = self._dataset[entry]
        if entry not in self._dataset_tokens:
            reply = count_tokens(item.reply) if item.reply else None
            self._dataset_tokens[entry] = (count_tokens(item.prompt), reply)
        prompt_tokens, reply_tokens = self._dataset_tokens[entry]
        if item.output_tokens is not None:
            out = item.output_tokens
        elif reply_tokens and self._config.dataset_output == "reply":
            out = reply_tokens
        else:
            out = drawn_output
        return item.prompt, prompt_tokens, out
