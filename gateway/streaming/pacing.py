"""When each piece of output may leave: the TTFT floor and the speed cap, as pure arithmetic.

Floor: nothing leaves before ``arrival + min_ttft``. Cap: counting the first
token's departure as t₀, the k-th token after it leaves no earlier than
t₀ + k / rate, so the client never averages more than ``rate`` tokens/s.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Pacer:
    not_before: float  # arrival + TTFT floor
    tokens_per_s: float | None  # None: no cap
    first_at: float | None = None
    sent_after_first: int = 0

    def earliest(self, tokens: int) -> float:
        """Earliest send time of a chunk with ``tokens`` output tokens (0: role/usage chunks)."""
        if self.first_at is None:
            return self.not_before
        if tokens == 0 or self.tokens_per_s is None:
            return self.first_at
        return self.first_at + (self.sent_after_first + tokens) / self.tokens_per_s

    def sent(self, tokens: int, at: float) -> None:
        if tokens == 0:
            return
        if self.first_at is None:
            self.first_at = at
            self.sent_after_first += tokens - 1
        else:
            self.sent_after_first += tokens

    def earliest_whole(self, completion_tokens: int) -> float:
        """A non-streamed response holds all its tokens: it leaves when the last would have."""
        if self.tokens_per_s is None or completion_tokens <= 1:
            return self.not_before
        return self.not_before + (completion_tokens - 1) / self.tokens_per_s
