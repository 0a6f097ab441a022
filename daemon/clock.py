"""Time for the daemon: an injectable clock and US Eastern calendar arithmetic.

E*TRADE tokens die at 00:00 America/New_York. All arithmetic here is done on aware datetimes
converted through zoneinfo, never with a fixed UTC offset, so it stays right across DST changes.
"""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

ET = ZoneInfo("America/New_York")


class Clock(Protocol):
    """Seconds since the epoch. The daemon asks this, never ``time.time()`` directly."""

    def now(self) -> float: ...


class SystemClock:
    """The host's clock."""

    def now(self) -> float:
        return time.time()


def to_datetime(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=UTC)


@functools.lru_cache(maxsize=64)
def next_midnight_et(epoch_seconds: float) -> float:
    """The first 00:00 America/New_York strictly after the given instant.

    Cached: the session asks it on every call about the same few instants (when a token was issued).
    """
    local = to_datetime(epoch_seconds).astimezone(ET)
    next_day = local.date() + timedelta(days=1)
    # Midnight is never skipped or repeated in New York (DST changes happen at 02:00).
    return datetime(next_day.year, next_day.month, next_day.day, tzinfo=ET).timestamp()


def last_midnight_et(epoch_seconds: float) -> float:
    """The most recent 00:00 America/New_York at or before the given instant."""
    local = to_datetime(epoch_seconds).astimezone(ET)
    return datetime(local.year, local.month, local.day, tzinfo=ET).timestamp()


def iso_et(epoch_seconds: float) -> str:
    return to_datetime(epoch_seconds).astimezone(ET).isoformat(timespec="seconds")


def iso_local(epoch_seconds: float) -> str:
    return to_datetime(epoch_seconds).astimezone().isoformat(timespec="seconds")
