"""The pacer's arithmetic: floor first, then at most `rate` tokens per second after the first."""

from __future__ import annotations

from gateway.streaming.pacing import Pacer


def test_floor_holds_the_first_chunk_even_without_tokens() -> None:
    p = Pacer(not_before=10.0, tokens_per_s=None)
    assert p.earliest(0) == 10.0
    assert p.earliest(1) == 10.0


def test_cap_spaces_tokens_after_the_first() -> None:
    p = Pacer(not_before=10.0, tokens_per_s=4.0)
    p.sent(0, 10.0)  # role chunk: not a token
    assert p.earliest(1) == 10.0
    p.sent(1, 10.5)  # first token leaves at 10.5
    assert p.earliest(1) == 10.75  # the next one a quarter second later
    p.sent(1, 10.75)
    assert p.earliest(2) == 11.25  # a two-token chunk waits for both
    assert p.earliest(0) == 10.5  # a token-less chunk never waits on the cap


def test_after_a_stall_tokens_keep_their_spacing_instead_of_bursting() -> None:
    p = Pacer(not_before=0.0, tokens_per_s=10.0)
    p.sent(1, 1.0)
    assert p.earliest(1) == 1.1
    # the engine stalls (or the loop wakes late): what piled up still leaves 1/rate apart
    p.sent(1, 3.0)
    assert p.earliest(1) == 3.1
    p.sent(1, 3.1)
    assert p.earliest(3) == 3.1 + 0.3


def test_whole_response_waits_for_its_last_token() -> None:
    p = Pacer(not_before=2.0, tokens_per_s=10.0)
    assert p.earliest_whole(1) == 2.0
    assert p.earliest_whole(21) == 4.0
    assert Pacer(not_before=2.0, tokens_per_s=None).earliest_whole(500) == 2.0
