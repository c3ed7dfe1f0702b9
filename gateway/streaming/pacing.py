"""When each piece of output may leave: the TTFT floor and the speed cap, as pure arithmetic.

Floor: nothing leaves before ``arrival + min_ttft``. Cap: a chunk of ``k`` tokens
leaves no earlier than ``k / rate`` after the previous token-carrying chunk left, so
no stretch of the stream after the first token runs faster than ``rate`` tokens/s.

Spacing is measured from the previous *actual* send, not from a fixed schedule
``t0 + n / rate``: with a schedule, a late wake-up (a busy event loop) or an engine
stall lets the tokens that piled up leave in one burst, and the client would see
the premium tier's speed on the capped one. The price is that lateness is never
made up, so the average may fall a little below the cap; a cap is a maximum.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Pacer:
    not_before: float  # arrival + TTFT floor
    tokens_per_s: float | None  # None: no cap
    first_at: float | None = None
    last_at: float | None = None  # when the last token-carrying chunk left

    def earliest(self, tokens: int) -> float:
        """Earliest send time of a chunk with ``tokens`` output tokens (0: role/usage chunks)."""
        if self.first_at is None or self.last_at is None:
            return self.not_before
        if tokens == 0 or self.tokens_per_s is None:
            return self.first_at
        return self.last_at + tokens / self.tokens_per_s

    def sent(self, tokens: int, at: float) -> None:
        if tokens == 0:
            return
        if self.first_at is None:
            self.first_at = at
        self.last_at = at

    def earliest_whole(self, completion_tokens: int) -> float:
        """A non-streamed response holds all its tokens: it leaves when the last would have."""
        if self.tokens_per_s is None or completion_tokens <= 1:
            return self.not_before
        return self.not_before + (completion_tokens - 1) / self.tokens_per_s
