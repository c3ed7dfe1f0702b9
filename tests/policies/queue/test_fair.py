"""Fair share (VTC): the counter bound between backlogged tenants, weights, and the idle lift."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict

from hypothesis import given
from hypothesis import strategies as st

from policies.queue.fair import FairShareQueue
from policies.ticket import Ticket, Usage
from tests.policies.fakes import PROPERTIES, ticket

W_IN, W_OUT = 1.0, 2.0  # the defaults


class Service:
    """Runs a fair queue over ``slots`` slots and books the service each tenant received."""

    def __init__(self, q: FairShareQueue, slots: int) -> None:
        self.q = q
        self.slots = slots
        self.inflight: list[Ticket] = []
        self.received: dict[str, float] = defaultdict(float)  # weighted tokens served
        self.dispatched: Counter[str] = Counter()

    def fill(self) -> None:
        while len(self.inflight) < self.slots and (t := self.q.pop()) is not None:
            self.q.on_dispatch(t)
            self.inflight.append(t)
            self.received[t.tenant] += W_IN * t.prompt_tokens / t.weight
            self.dispatched[t.tenant] += 1

    def finish(self, index: int) -> None:
        t = self.inflight.pop(index % len(self.inflight))
        self.q.on_finish(t, Usage(t.prompt_tokens, t.max_tokens))
        self.received[t.tenant] += W_OUT * t.max_tokens / t.weight


def serve(q: FairShareQueue, tenant: str, n: int = 1, prompt: int = 100, out: int = 50) -> None:
    """Push, dispatch and finish ``n`` requests of ``tenant`` while nobody else competes."""
    for _ in range(n):
        t = ticket(tenant=tenant, prompt_tokens=prompt, max_tokens=out)
        q.push(t)
        assert q.pop() is t
        q.on_dispatch(t)
        q.on_finish(t, Usage(prompt, out))


@PROPERTIES
@given(
    slots=st.sampled_from([1, 1, 4]),
    weights=st.lists(st.sampled_from([1.0, 2.0, 3.0]), min_size=2, max_size=3),
    sizes=st.lists(st.tuples(st.integers(1, 400), st.integers(0, 300)), min_size=3, max_size=7),
    finishes=st.lists(st.integers(0, 7), min_size=120, max_size=120),
)
def test_backlogged_tenants_stay_within_one_request_of_each_other(
    slots: int, weights: list[float], sizes: list[tuple[int, int]], finishes: list[int]
) -> None:
    """Sheng et al.'s bound: two continuously backlogged tenants' service differs by at most
    one request's weighted charge with one slot; with C slots outputs are charged late, so
    up to C outputs may be outstanding."""
    tenants = [f"t{i}" for i in range(len(weights))]
    in_max = max(W_IN * p / w for p, _ in sizes for w in weights)
    out_max = max(W_OUT * o / w for _, o in sizes for w in weights)
    one_request = max((W_IN * p + W_OUT * o) / w for p, o in sizes for w in weights)
    bound = one_request if slots == 1 else in_max + slots * out_max
    q = FairShareQueue(input_weight=W_IN, output_weight=W_OUT)
    sim = Service(q, slots)
    made = itertools.count()
    queued = Counter[str]()

    def refill() -> None:
        for tenant, weight in zip(tenants, weights, strict=True):
            # enough that filling every slot from one tenant still leaves it backlogged
            while queued[tenant] - sim.dispatched[tenant] <= slots:
                n = next(made)
                prompt, out = sizes[n % len(sizes)]
                q.push(
                    ticket(n, tenant=tenant, prompt_tokens=prompt, max_tokens=out, weight=weight)
                )
                queued[tenant] += 1

    def check() -> None:
        got = [sim.received[t] for t in tenants]
        assert max(got) - min(got) <= bound + 1e-6, (got, bound)

    for step in finishes:
        refill()
        sim.fill()
        check()
        sim.finish(step)
        check()


def test_weights_split_service_in_proportion() -> None:
    q = FairShareQueue()
    sim = Service(q, slots=1)
    for n in range(400):
        q.push(ticket(n, tenant="light", weight=1.0, prompt_tokens=100, max_tokens=50))
        q.push(ticket(10_000 + n, tenant="heavy", weight=2.0, prompt_tokens=100, max_tokens=50))
    for _ in range(300):
        sim.fill()
        sim.finish(0)
    light, heavy = sim.dispatched["light"], sim.dispatched["heavy"]
    assert light + heavy == 300
    assert abs(2 * light - heavy) <= 2


def test_fifo_within_a_tenant_and_least_served_tenant_first() -> None:
    q = FairShareQueue()
    serve(q, "a", n=2)  # a has been served; b has not
    a1, a2 = ticket(10, tenant="a"), ticket(11, tenant="a")
    b1, b2 = ticket(20, tenant="b"), ticket(21, tenant="b")
    for t in (a1, a2, b1, b2):
        q.push(t)
    # b was lifted to a's counter on arrival, so ties go by the oldest ticket: a1 first.
    # Dispatching a1 charges a, so both b tickets follow before a2.
    first = q.pop()
    assert first is a1
    q.on_dispatch(a1)
    assert [q.pop(), q.pop(), q.pop()] == [b1, b2, a2]


def test_a_returning_tenant_is_lifted_to_the_lowest_active_counter() -> None:
    q = FairShareQueue()
    serve(q, "a", n=3)
    q.push(a := ticket(tenant="a"))
    q.push(c := ticket(tenant="c"))
    assert q.pop() is a  # tie with c (lifted to a's counter): a's ticket is older
    q.on_dispatch(a)  # a, in flight, now above c, still queued
    q.push(ticket(tenant="b"))  # b never ran: without the lift it would bank all a used
    assert q.counter("b") == q.counter("c") < q.counter("a")
    assert c in q


def test_the_lift_never_lowers_a_counter() -> None:
    q = FairShareQueue()
    q.push(ticket(2, tenant="a"))  # a stays backlogged at 0 throughout
    q.push(b := ticket(1, tenant="b", prompt_tokens=1000))
    assert q.pop() is b
    q.on_dispatch(b)
    q.on_finish(b, Usage(1000, 0))  # b is idle again, far above a
    high = q.counter("b")
    q.push(ticket(3, tenant="b"))
    assert q.counter("b") == high > q.counter("a") == 0


def test_a_tenant_with_only_requests_in_flight_is_active() -> None:
    q = FairShareQueue()
    q.push(a := ticket(tenant="a", prompt_tokens=300))
    q.pop()
    q.on_dispatch(a)  # in flight, nothing queued
    q.push(ticket(tenant="b"))
    assert q.counter("b") == q.counter("a") > 0


def test_with_nobody_active_the_last_tenant_to_leave_sets_the_floor() -> None:
    q = FairShareQueue()
    serve(q, "a", n=4)  # a is idle again afterwards
    q.push(ticket(tenant="b"))
    assert q.counter("b") == q.counter("a") > 0


def test_finishing_without_usage_ends_activity_without_charging() -> None:
    q = FairShareQueue()
    q.push(a := ticket(tenant="a", prompt_tokens=100))
    q.pop()
    q.on_dispatch(a)
    charged = q.counter("a")
    q.on_finish(a, None)  # upstream failed before any token
    assert q.counter("a") == charged
    serve(q, "b", n=3)  # b runs alone and goes idle with a higher counter
    q.push(ticket(tenant="a"))  # a returns from idle: lifted
    assert q.counter("a") == q.counter("b")


def test_push_back_is_not_a_return_from_idle() -> None:
    q = FairShareQueue()
    serve(q, "b", n=2)
    q.push(b := ticket(1, tenant="b"))
    q.push(a := ticket(2, tenant="a"))  # lifted to b's counter: tie, b is older
    assert q.pop() is b
    q.on_dispatch(b)  # b charged: a is now the least served
    assert q.pop() is a  # a has nothing queued, popped or in flight except this one
    before = q.counter("a")
    q.push(a)  # the lease was lost: back it goes, with no lift
    assert q.counter("a") == before
    assert q.pop() is a


def test_removing_a_popped_ticket_ends_its_activity() -> None:
    q = FairShareQueue()
    q.push(a := ticket(tenant="a"))
    assert q.pop() is a
    q.remove(a)  # the client left while the scheduler awaited a slot lease
    serve(q, "b", n=2)
    q.push(ticket(tenant="a"))
    assert q.counter("a") == q.counter("b")


def test_hooks_accept_tickets_from_a_replaced_queue() -> None:
    """After a hot reload the new queue hears about tickets the old one dispatched."""
    q = FairShareQueue()
    old = ticket(tenant="a", prompt_tokens=10, max_tokens=5)
    q.on_dispatch(old)
    q.on_finish(old, Usage(10, 5))
    q.on_finish(old, Usage(10, 5))  # a duplicate finish must not make activity negative
    stranger = ticket(tenant="z")
    q.on_finish(stranger, Usage(1, 1))
    assert len(q) == 0 and q.pop() is None
    q.push(t := ticket(tenant="a"))
    assert q.pop() is t
