"""The regular session in US Eastern time, across DST, at its edges and on weekends."""

from __future__ import annotations

from datetime import datetime

import pytest

from daemon.clock import ET
from daemon.market.market_hours import in_regular_session


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ET).timestamp()


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        ("2026-03-10 09:29:59", False),
        ("2026-03-10 09:30:00", True),
        ("2026-03-10 15:59:59", True),
        ("2026-03-10 16:00:00", False),
        ("2026-03-09 12:00:00", True),  # Monday after the spring DST change (EDT)
        ("2026-11-02 09:45:00", True),  # Monday after the autumn DST change (EST)
        ("2026-11-02 09:15:00", False),
        ("2026-03-14 12:00:00", False),  # Saturday
        ("2026-03-15 12:00:00", False),  # Sunday
        ("2026-03-10 03:00:00", False),
    ],
)
def test_regular_session(moment: str, open_: bool) -> None:
    assert in_regular_session(at(moment)) is open_
