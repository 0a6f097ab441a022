"""The cap on "order pending" notifications: a model previewing in a loop must not fill the phone.

Each channel has its own :class:`PendingCap`. Windows are fixed: the first pending order notified
opens one of ``window`` seconds on the daemon's clock; within it at most ``limit`` are sent one by
one, and the rest are *held*. When the window ends — noticed by the hub's timer, or by the next
pending order, whichever comes first — the held ones are told in one summary (:class:`Held`), and
the next pending order opens a new window. So a channel hears at most ``limit`` + 1 pending-order
notifications per window, and never silently loses that orders wait.

Pure and synchronous (the hub calls it on the event loop); times are the caller's ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Held pending ids remembered per window, to count which still wait when the summary is told;
#: beyond it a held order is only counted (and assumed still waiting: better told than lost).
MAX_HELD_IDS = 1000


@dataclass(frozen=True)
class Held:
    """Pending orders a window held back: how many, since when, and (up to MAX_HELD_IDS) which."""

    count: int
    since: float
    pending_ids: tuple[str, ...]


@dataclass
class _Window:
    opened: float
    sent: int = 0
    held: int = 0
    held_since: float = 0.0
    held_ids: list[str] = field(default_factory=list)

    def summary(self) -> Held | None:
        return Held(self.held, self.held_since, tuple(self.held_ids)) if self.held else None


class PendingCap:
    """At most ``limit`` pending-order notifications per ``window`` seconds for one channel."""

    def __init__(self, limit: int, window: float) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("the pending-order cap needs a limit of at least 1 and a positive window")
        self.limit = limit
        self.window = window
        self._current: _Window | None = None

    def admit(self, now: float, pending_id: str) -> tuple[bool, Held | None]:
        """Whether to send this pending order's notification, and a summary of an ended window to
        send before it (or None)."""
        summary = self.due(now)
        if self._current is None:
            self._current = _Window(opened=now)
        current = self._current
        if current.sent < self.limit:
            current.sent += 1
            return True, summary
        if not current.held:
            current.held_since = now
        current.held += 1
        if len(current.held_ids) < MAX_HELD_IDS:
            current.held_ids.append(pending_id)
        return False, summary

    def due(self, now: float) -> Held | None:
        """The summary of the window if it has ended (which closes it), else None."""
        current = self._current
        # A clock set back before the window opened ends it too: it would otherwise hold for as long.
        if current is None or current.opened <= now < current.opened + self.window:
            return None
        self._current = None
        return current.summary()

    def next_due(self) -> float | None:
        """When the open window ends, if it holds orders to summarise; None otherwise."""
        current = self._current
        if current is None or not current.held:
            return None
        return current.opened + self.window
