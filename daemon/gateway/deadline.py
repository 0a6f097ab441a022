"""Deadlines: how long a caller is still willing to wait, carried from the gRPC call to E*TRADE.

A servicer turns ``context.time_remaining()`` into a :class:`Deadline`; the domain objects pass it
down to the rate limiter (which waits for a slot only while the caller still waits), the retry
loop (which backs off only while there is time for another attempt) and the HTTP timeout.

Deadlines live on a monotonic clock, not on the daemon's :class:`~daemon.clock.Clock` (which
follows the emulator's movable calendar): they measure real waiting. Tests pass a fake time
source to make waiting deterministic.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

#: When the caller set no deadline (an in-process call, a client without a timeout).
DEFAULT_DEADLINE_SECONDS = 30.0


class TimeSource(Protocol):
    """A monotonic clock and a way to wait on it."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> Awaitable[None]: ...


class RealTime:
    """``time.monotonic`` and ``asyncio.sleep``."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> Awaitable[None]:
        return asyncio.sleep(seconds)


REAL_TIME = RealTime()


class Deadline:
    """An instant on a monotonic clock by which the caller wants its answer."""

    __slots__ = ("_now", "at")

    def __init__(self, at: float, now: Callable[[], float] = time.monotonic) -> None:
        self.at = at
        self._now = now

    @classmethod
    def after(cls, seconds: float | None, *, time_source: TimeSource = REAL_TIME) -> Deadline:
        """``seconds`` from now; ``None`` (no deadline given) means the default of 30 s."""
        budget = DEFAULT_DEADLINE_SECONDS if seconds is None else max(0.0, seconds)
        return cls(time_source.monotonic() + budget, time_source.monotonic)

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.at - self._now())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def later(self, other: Deadline) -> Deadline:
        """The later of two deadlines (a shared upstream call serves the most patient caller)."""
        return self if self.at >= other.at else other

    def __repr__(self) -> str:
        return f"Deadline(remaining={self.remaining():.3f}s)"
