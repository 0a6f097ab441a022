"""The countdown `etradectl status` shows, relative to the daemon's clock (not the terminal's)."""

from __future__ import annotations

import pytest

from cli.commands.status import countdown

NOW = 1_773_151_200.0  # any instant: the daemon's clock is passed in, never read here


@pytest.mark.parametrize(
    ("delta", "shown"),
    [
        (10 * 3600 + 49 * 60 + 59, "in 10h 49m"),
        (3600, "in 1h 00m"),
        (59 * 60, "in 59m"),
        (42, "in 42s"),
        (0, "now"),
        (-5, "5s ago"),
        (-(2 * 3600 + 5 * 60), "2h 05m ago"),
    ],
)
def test_countdown(delta: int, shown: str) -> None:
    assert countdown(int((NOW + delta) * 1000), NOW) == shown
