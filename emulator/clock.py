"""The emulator's controllable clock.

Everything about sessions (token expiry at midnight ET, the 2-hour idle rule, request-token
lifetime), market hours and quotes reads this clock, never the wall clock, so tests can jump
to any instant (a DST change day, 23:59:59 ET) without sleeping. Only two things stay on real
time on purpose: the OAuth timestamp window (clients sign with the real time even when a test
moves this clock) and the rate-limit windows (they model E*TRADE's throttling of real traffic).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

#: E*TRADE's day boundaries (token expiry, market hours) are US Eastern time.
EASTERN = ZoneInfo("America/New_York")


def as_utc(moment: datetime) -> datetime:
    """Return ``moment`` as an aware UTC datetime; naive datetimes are refused, not guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the emulator clock needs an aware datetime (with a time zone)")
    return moment.astimezone(UTC)


class Clock:
    """A thread-safe clock that runs at real speed from a settable offset, or stands still.

    ``now()`` is ``real() + offset`` while running and a fixed instant while frozen, so
    ``set``/``advance`` work in both modes and ``unfreeze`` resumes from the frozen instant.
    """

    def __init__(
        self,
        start: datetime | None = None,
        *,
        frozen: bool = False,
        real: Callable[[], float] = time.time,
    ) -> None:
        self._real = real
        self._lock = threading.Lock()
        start_ts = as_utc(start).timestamp() if start is not None else real()
        self._offset = start_ts - real()
        self._frozen_at: float | None = start_ts if frozen else None

    def _now_ts(self) -> float:
        if self._frozen_at is not None:
            return self._frozen_at
        return self._real() + self._offset

    def now(self) -> datetime:
        """The current emulator instant, an aware UTC datetime."""
        with self._lock:
            return datetime.fromtimestamp(self._now_ts(), UTC)

    def set(self, moment: datetime) -> datetime:
        """Jump to ``moment`` (aware); keeps running or stays frozen as before. Returns now()."""
        target = as_utc(moment).timestamp()
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = target
            else:
                self._offset = target - self._real()
        return self.now()

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock by ``delta`` (may be negative). Returns the new now()."""
        seconds = delta.total_seconds()
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds
        return self.now()

    def freeze(self) -> datetime:
        """Stop the clock at the current instant. Returns that instant."""
        with self._lock:
            if self._frozen_at is None:
                self._frozen_at = self._now_ts()
        return self.now()

    def unfreeze(self) -> datetime:
        """Let the clock run again at real speed from where it stood."""
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - self._real()
                self._frozen_at = None
        return self.now()

    @property
    def frozen(self) -> bool:
        """Whether the clock currently stands still."""
        with self._lock:
            return self._frozen_at is not None

    def describe(self) -> dict[str, object]:
        """The clock as the admin interface reports it."""
        now = self.now()
        return {
            "now": now.isoformat(),
            "now_eastern": now.astimezone(EASTERN).isoformat(),
            "epoch_seconds": now.timestamp(),
            "frozen": self.frozen,
        }


def next_eastern_midnight(moment: datetime) -> datetime:
    """The first 00:00 America/New_York strictly after ``moment``, as aware UTC.

    Computed on the Eastern calendar date (not by adding 24 hours), so it stays right on the
    23- and 25-hour days when daylight saving time starts or ends.
    """
    local = as_utc(moment).astimezone(EASTERN)
    next_day = local.date() + timedelta(days=1)
    return datetime(next_day.year, next_day.month, next_day.day, tzinfo=EASTERN).astimezone(UTC)
