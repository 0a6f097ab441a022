"""The per-channel cap on "order pending" notifications: fixed windows on the caller's clock, the rest
held and told once, at the window's end or before the next pending order, whichever comes first."""

from __future__ import annotations

import pytest

from daemon.notifications.throttle import MAX_HELD_IDS, Held, PendingCap


def test_at_most_the_limit_is_sent_and_the_rest_are_held_until_the_window_ends() -> None:
    cap = PendingCap(2, 600.0)
    assert [cap.admit(1000.0 + i, f"p{i}") for i in range(5)] == [
        (True, None),
        (True, None),
        (False, None),
        (False, None),
        (False, None),
    ]
    assert cap.next_due() == 1600.0
    assert cap.due(1599.9) is None
    assert cap.due(1600.0) == Held(3, 1002.0, ("p2", "p3", "p4"))
    assert cap.due(1600.0) is None and cap.next_due() is None  # told once
    assert cap.admit(1700.0, "p5") == (True, None)  # a new window


def test_the_next_pending_order_after_the_window_brings_the_summary_first() -> None:
    cap = PendingCap(1, 60.0)
    cap.admit(0.0, "a")
    cap.admit(1.0, "b")
    assert cap.admit(61.0, "c") == (True, Held(1, 1.0, ("b",)))
    assert cap.admit(62.0, "d") == (False, None)  # the window "c" opened holds "d"


def test_a_window_that_held_nothing_has_nothing_to_tell() -> None:
    cap = PendingCap(3, 60.0)
    cap.admit(0.0, "a")
    assert cap.next_due() is None
    assert cap.due(1000.0) is None
    assert cap.admit(1000.0, "b") == (True, None)


def test_a_clock_set_back_ends_the_window_rather_than_holding_it_for_as_long() -> None:
    cap = PendingCap(1, 600.0)
    cap.admit(5000.0, "a")
    cap.admit(5001.0, "b")
    assert cap.due(100.0) == Held(1, 5001.0, ("b",))


def test_held_ids_are_bounded_but_every_held_order_is_counted() -> None:
    cap = PendingCap(1, 60.0)
    for i in range(MAX_HELD_IDS + 11):
        cap.admit(0.0, f"p{i}")
    held = cap.due(60.0)
    assert held is not None and held.count == MAX_HELD_IDS + 10 and len(held.pending_ids) == MAX_HELD_IDS


@pytest.mark.parametrize(("limit", "window"), [(0, 60.0), (1, 0.0)])
def test_a_cap_that_would_hold_everything_or_nothing_is_refused(limit: int, window: float) -> None:
    with pytest.raises(ValueError, match="limit of at least 1"):
        PendingCap(limit, window)
