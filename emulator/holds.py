"""Held responses: the request is processed, its answer waits until a test releases it.

A fault with ``"hold": true`` lets the handler run (an order is recorded, cash moves) and then
parks the response in the connection's thread. It reproduces the one moment a crash-safe client
must survive: the broker has acted, the client has not heard. A test waits until a response is
held (:meth:`HoldRegistry.wait_for`), kills the client, restarts it, and releases the hold.

Held responses are released by ``POST /_emulator/holds/release``, :meth:`HoldRegistry.release`,
when the emulator stops, or after :data:`MAX_HOLD_SECONDS` at the latest (a forgotten hold must
not keep a thread forever).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime

MAX_HOLD_SECONDS = 600.0


@dataclass
class Hold:
    """One parked response."""

    id: int
    route: str
    since: datetime
    released: threading.Event = field(default_factory=threading.Event)

    def describe(self) -> dict[str, object]:
        """JSON view for the admin interface."""
        return {"id": self.id, "route": self.route, "since": self.since.isoformat()}


class HoldRegistry:
    """The responses currently held, and a condition to wait for the next one."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._holds: dict[int, Hold] = {}
        self._ids = itertools.count(1)

    def hold(self, route: str, since: datetime) -> Hold:
        """Register a response about to be parked."""
        with self._changed:
            parked = Hold(next(self._ids), route, since)
            self._holds[parked.id] = parked
            self._changed.notify_all()
            return parked

    def wait_released(self, parked: Hold) -> None:
        """Block the connection's thread until the hold is released (bounded)."""
        parked.released.wait(MAX_HOLD_SECONDS)
        with self._changed:
            self._holds.pop(parked.id, None)
            self._changed.notify_all()

    def held(self) -> list[Hold]:
        """Responses held right now, oldest first."""
        with self._changed:
            return sorted(self._holds.values(), key=lambda h: h.id)

    def wait_for(self, timeout: float) -> list[Hold]:
        """Wait until at least one response is held (or ``timeout`` seconds pass); return them."""
        with self._changed:
            self._changed.wait_for(lambda: bool(self._holds), timeout)
            return sorted(self._holds.values(), key=lambda h: h.id)

    def release(self, hold_id: int | None = None) -> int:
        """Release one hold (by id) or all of them; returns how many were released."""
        with self._changed:
            targets = [h for h in self._holds.values() if hold_id is None or h.id == hold_id]
            for parked in targets:
                parked.released.set()
            return len(targets)
