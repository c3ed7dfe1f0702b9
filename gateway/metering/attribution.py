"""GPU cost attribution: a backend's cost per second, split among the requests in flight on it.

Pure: values in, values out, the clock passed in as ``now`` (monotonic seconds).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.metering.pricing import usd_to_nano
from gateway.metering.record import Attribution
from gateway.metering.reserve import ReserveLedger

_NS = 10**9  # nanoseconds per second; also the denominator of parts-per-billion
_ATTO = 10**18  # GPU time is split in GPU-attoseconds: an interval's is gpus·share_ppb·dt_ns
_COST_DEN = 3600 * _ATTO  # cost_nano = gpu_atto · gpu_hour_nano / _COST_DEN
_MILLI = 1000  # estimated decode weights are integer milli-tokens
_RATE_ALPHA = 0.2  # EWMA weight of each finished request's observed decode rate
_RATE_MIN_SPAN = 0.01  # seconds in flight below which a request says nothing about the rate


def _ns(seconds: float) -> int:
    return round(seconds * _NS)


def _ppb(fraction: float) -> int:
    return usd_to_nano(fraction)  # same exact decimal conversion; 1e-9 resolution


@dataclass(frozen=True, slots=True)
class RequestCost:
    """What one finished request cost: final, so its usage record is written exactly once."""

    cost_nano: int
    gpu_seconds: float  # its share of the backend's GPU time (scaled by the meter's share)
    tokens: int  # prefill + completion: the divisor of its realised cost per token
    attribution: Attribution  # "streamed": weights seen per chunk; "spread": estimated


@dataclass(frozen=True, slots=True)
class BackendCostTotals:
    """A backend's cost since the meter started: busy + idle == elapsed GPU time · price.

    Busy includes requests still in flight (their share so far). ``reserved`` is
    reserve·gpus·share GPU-seconds per second; ``reserve_used`` is what reserve-using tiers
    ran, capped at the reserve within each reserve window; ``reserve_borrowed`` is what they
    ran beyond it, on general capacity (see ``ReserveLedger``). ``tokens`` counts prefill at
    dispatch and completion tokens at finish.
    """

    busy_cost_nano: int
    idle_cost_nano: int
    gpu_seconds: float
    idle_gpu_seconds: float
    reserved_gpu_seconds: float
    reserve_used_gpu_seconds: float
    reserve_borrowed_gpu_seconds: float
    tokens: int
    in_flight: int

    @property
    def cost_nano(self) -> int:
        return self.busy_cost_nano + self.idle_cost_nano

    @property
    def cost_per_mtok_usd(self) -> float | None:
        """Total cost (idle included) per 1M tokens: nano/token · 1e6 / 1e9."""
        return self.cost_nano / self.tokens / 1000 if self.tokens else None


class _InFlight:
    """One request's running tally; mutable because tokens() touches it per streamed chunk."""

    __slots__ = (
        "counted",
        "dispatched_at",
        "gpu_atto",
        "out",
        "prefill",
        "prefill_w",
        "streamed",
        "uses_reserve",
    )

    def __init__(self, now: float, prefill: int, streamed: bool, uses_reserve: bool) -> None:
        self.dispatched_at = now
        self.prefill = prefill
        self.prefill_w = prefill  # prefill weight still in the open interval
        self.streamed = streamed
        self.uses_reserve = uses_reserve
        self.out = 0  # output tokens seen in the open interval
        self.counted = 0  # output tokens seen in all
        self.gpu_atto = 0  # GPU-attoseconds attributed so far


class BackendCostMeter:
    """Splits ``gpus · gpu_hour_usd / 3600 · share`` USD per second among in-flight requests.

    Intervals close at every dispatch and finish, when a token event arrives more than
    ``max_interval`` seconds after the interval opened, on ``set_share`` and on ``totals``.
    A closed interval's GPU time is split in proportion to weights: the tokens each request
    processed in it (prefill in the interval it was dispatched in, output as it streamed);
    with no weight at all, equally. With nothing in flight it is idle.

    Spread requests (non-streamed: their output is counted only at the end) weigh, per
    interval, the mean output tokens per streamed request in flight in that interval.
    Continuous batching decodes every running sequence one token per step, so the streamed
    peers show what the hidden ones did; when a step ends inside no interval, nobody
    decoded and a hidden sequence weighs nothing either. With no streamed peer, it weighs
    r̂·dt, where r̂ (tokens/s per sequence) is an EWMA of finished requests' completion
    tokens / time in flight, starting from ``decode_rate_prior``; r̂ only matters against
    prefill weight, since all-hidden decoders in one interval weigh alike. This beats an
    equal split, which would hand a just-dispatched request's whole prefill interval to it
    alone or ignore prefill. Spread weights are estimates and are not reconciled at finish.

    Streamed requests reconcile at finish: output the engine reports beyond the chunks
    counted is added to the last interval (bounded by its length; over-counted chunks
    cannot be taken back from intervals already split).

    Exactness: GPU time is an integer in GPU-attoseconds, split by cumulative floors so
    parts sum to the whole. Money is converted once per request (at finish) and per idle
    interval through one running ledger: each emission is
    ⌊(G + g)·price⌋ - ⌊G·price⌋ for emitted GPU time G, so Σ request cost + idle cost ==
    ⌊elapsed GPU time · price⌋ exactly, every request within one nano-dollar of its exact
    share. ``share`` and ``reserve`` resolve to parts per billion.

    Work: O(1) per token event (a dict lookup, a few increments, a comparison),
    O(in-flight) per interval close. A ``now`` before the open interval's start counts as it.
    """

    def __init__(
        self,
        gpus: int,
        gpu_hour_usd: float,
        reserve: float,
        start: float,
        *,
        share: float = 1.0,
        max_interval: float = 1.0,
        reserve_window: float = 10.0,
        decode_rate_prior: float = 50.0,
    ) -> None:
        if gpus < 1 or not gpu_hour_usd >= 0:
            raise ValueError(f"need gpus >= 1 and gpu_hour_usd >= 0: {gpus=} {gpu_hour_usd=}")
        if not max_interval > 0 or not decode_rate_prior > 0:
            raise ValueError("max_interval and decode_rate_prior must be > 0")
        self._gpus = gpus
        self._hour_nano = usd_to_nano(gpu_hour_usd)
        self._reserve = ReserveLedger(reserve, start, reserve_window)
        self._share_ppb = self._check_share(share)
        self._max_interval = max_interval
        self._decode_rate = decode_rate_prior
        self._flight: dict[str, _InFlight] = {}
        self._n_streamed = 0
        self._streamed_out = 0  # output tokens of streamed requests in the open interval
        self._opened = start
        self._opened_ns = _ns(start)
        self._gpu_total = 0  # GPU-attoseconds elapsed (times share)
        self._gpu_idle = 0
        self._emitted_gpu = 0  # GPU time already turned into money
        self._emitted_nano = 0
        self._idle_nano = 0
        self._tokens = 0

    @staticmethod
    def _check_share(share: float) -> int:
        if not 0 <= share <= 1:
            raise ValueError(f"share must be in [0, 1], got {share!r}")
        return _ppb(share)

    @property
    def in_flight(self) -> int:
        return len(self._flight)

    @property
    def decode_rate(self) -> float:
        """r̂: the estimated output tokens/s of one running sequence."""
        return self._decode_rate

    def dispatch(
        self,
        request_id: str,
        prefill_tokens: int,
        now: float,
        *,
        streamed: bool,
        uses_reserve: bool = False,
    ) -> None:
        """The request starts running on the backend; its prefill weighs in from now."""
        if request_id in self._flight:
            raise ValueError(f"request {request_id!r} is already in flight")
        if prefill_tokens < 0:
            raise ValueError(f"prefill_tokens must be >= 0, got {prefill_tokens}")
        self._close(now)
        self._flight[request_id] = _InFlight(now, prefill_tokens, streamed, uses_reserve)
        self._n_streamed += streamed
        self._tokens += prefill_tokens

    def tokens(self, request_id: str, n: int, now: float) -> None:
        """``n`` output tokens of a request arrived; late ones of a finished request are dropped."""
        st = self._flight.get(request_id)
        if st is None:
            return
        st.out += n
        st.counted += n
        if st.streamed:
            self._streamed_out += n
        if now - self._opened > self._max_interval:
            self._close(now)

    def finish(self, request_id: str, now: float, completion_tokens: int) -> RequestCost:
        """The request left the backend (done, failed or abandoned); returns its final cost.

        ``completion_tokens`` is what was actually generated (the engine's usage, or counted).
        Raises KeyError for a request not in flight, so nothing is metered twice.
        """
        st = self._flight[request_id]
        if completion_tokens < 0:
            raise ValueError(f"completion_tokens must be >= 0, got {completion_tokens}")
        visible = st.out
        if st.streamed and completion_tokens > st.counted:
            st.out += completion_tokens - st.counted  # unseen chunks land in the last interval
        closed = self._close(now)
        del self._flight[request_id]
        if st.streamed:
            self._n_streamed -= 1
            if not closed:  # its tokens of a zero-length interval must not sway the peers' mean
                self._streamed_out -= visible
        self._tokens += completion_tokens
        seconds = now - st.dispatched_at
        if completion_tokens > 0 and seconds >= _RATE_MIN_SPAN:
            self._decode_rate += _RATE_ALPHA * (completion_tokens / seconds - self._decode_rate)
        return RequestCost(
            cost_nano=self._emit(st.gpu_atto),
            gpu_seconds=st.gpu_atto / _ATTO,
            tokens=st.prefill + completion_tokens,
            attribution="streamed" if st.streamed else "spread",
        )

    def set_share(self, share: float, now: float) -> None:
        """This replica attributes ``share`` of the backend's cost from now on."""
        share_ppb = self._check_share(share)
        self._close(now)
        self._share_ppb = share_ppb

    def totals(self, now: float) -> BackendCostTotals:
        """Cost and GPU time up to ``now`` (closes the open interval)."""
        self._close(now)
        reserve = self._reserve
        return BackendCostTotals(
            busy_cost_nano=self._gpu_total * self._hour_nano // _COST_DEN - self._idle_nano,
            idle_cost_nano=self._idle_nano,
            gpu_seconds=self._gpu_total / _ATTO,
            idle_gpu_seconds=self._gpu_idle / _ATTO,
            reserved_gpu_seconds=reserve.reserved / _ATTO,
            reserve_used_gpu_seconds=reserve.used / _ATTO,
            reserve_borrowed_gpu_seconds=reserve.borrowed / _ATTO,
            tokens=self._tokens,
            in_flight=len(self._flight),
        )

    def _emit(self, gpu_atto: int) -> int:
        """Nano-dollars for GPU time leaving the meter: ⌊(G + g)·price⌋ - ⌊G·price⌋."""
        before = self._emitted_nano
        self._emitted_gpu += gpu_atto
        self._emitted_nano = self._emitted_gpu * self._hour_nano // _COST_DEN
        return self._emitted_nano - before

    def _close(self, now: float) -> bool:
        """Closes the open interval at ``now``; False (weights kept) when no time elapsed."""
        t = _ns(now)
        dt = t - self._opened_ns
        if dt <= 0:  # e.g. a batch dispatched at one instant: its prefills share one interval
            return False
        gpu = self._gpus * self._share_ppb * dt
        self._gpu_total += gpu
        self._opened, self._opened_ns = now, t
        if self._flight:
            tier = self._split(gpu, dt)
        else:
            tier = 0
            self._gpu_idle += gpu
            self._idle_nano += self._emit(gpu)
        self._streamed_out = 0
        self._reserve.add(gpu, tier, now)
        return True

    def _split(self, gpu: int, dt_ns: int) -> int:
        """Share ``gpu`` among in-flight requests by weight; returns the reserve tiers' part."""
        flight = self._flight.values()
        if self._n_streamed:  # weights scaled by n_streamed so the streamed mean is an integer
            scale, hidden = self._n_streamed, self._streamed_out
        else:
            scale, hidden = _MILLI, round(self._decode_rate * dt_ns * _MILLI / _NS)
        weights = [
            (st.prefill_w + st.out) * scale + (0 if st.streamed else hidden) for st in flight
        ]
        total = sum(weights)
        if total == 0:
            weights, total = [1] * len(weights), len(weights)
        cumulative = given = tier = 0
        for st, w in zip(flight, weights, strict=True):
            cumulative += w
            upto = gpu * cumulative // total
            part, given = upto - given, upto
            st.gpu_atto += part
            st.prefill_w = st.out = 0
            if st.uses_reserve:
                tier += part
        return tier
