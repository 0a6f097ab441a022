"""The daemon's clock in the emulator environment: the emulator's, never the host's.

E*TRADE's rules (idle after two hours, dead at midnight US Eastern) are judged on E*TRADE's clock.
With the emulator that clock can be moved (tests jump to 23:59:59 ET or across a DST change), so a
daemon talking to an emulator must reason on the emulator's clock, or it would call a session
ACTIVE that the emulator already expired.

- :class:`EmulatorClock` reads an emulator running in the same process (the embedded emulator of
  ``--environment emulator`` without ``--emulator-url``, and in-process tests).
- :class:`RemoteEmulatorClock` follows a separately running emulator (``--emulator-url``): it reads
  ``GET /_emulator/clock`` at start-up and whenever :meth:`~RemoteEmulatorClock.refresh` is called
  (the daemon's clock-watch job does so every ``emulator_clock_poll`` seconds), and runs at host
  speed from that reading in between; a frozen emulator clock stands still here too.

Only ``daemon/app.py`` creates these, and only when ``environment == "emulator"``; production and
sandbox always use the host's :class:`~daemon.clock.SystemClock` (``build_app`` refuses anything
else).

:class:`ClockWatch` notices jumps: of the emulator's clock (a test moved it) and of the host's
(a laptop resumed from sleep, NTP stepped the clock). APScheduler times its jobs on the host's
monotonic timer, so after a jump the session jobs must re-check what is due now; the scheduler's
clock-watch job does that.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from daemon.clock import Clock, SystemClock, iso_et

log = logging.getLogger(__name__)

#: A clock reading that differs from the prediction by more than this is a jump, not drift.
JUMP_THRESHOLD = 2.0


class _SupportsNow(Protocol):
    def now(self) -> datetime: ...


class EmulatorClock:
    """The clock of an emulator in this process (``emulator.clock``), as epoch seconds."""

    description = "the in-process emulator's clock"

    def __init__(self, emulator_clock: _SupportsNow) -> None:
        self._clock = emulator_clock

    def now(self) -> float:
        return self._clock.now().timestamp()


class RemoteEmulatorClock:
    """Follows the clock of an emulator reached over HTTP (its admin endpoint ``/_emulator/clock``)."""

    def __init__(self, base_url: str, *, timeout: float = 2.0, real: Callable[[], float] = time.time) -> None:
        self.base_url = base_url.rstrip("/")
        self.description = f"the emulator's clock at {self.base_url}"
        self._timeout = timeout
        self._real = real
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen_at: float | None = None
        self._reachable: bool | None = None

    def now(self) -> float:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return self._real() + self._offset

    def refresh(self) -> bool:
        """Read the emulator's clock (blocking). False, keeping the last reading, if it cannot be read."""
        try:
            with urllib.request.urlopen(f"{self.base_url}/_emulator/clock", timeout=self._timeout) as response:
                document = json.loads(response.read().decode("utf-8"))
            epoch = float(document["epoch_seconds"])
            frozen = bool(document.get("frozen", False))
        except (OSError, urllib.error.URLError, ValueError, KeyError, TypeError) as exc:
            if self._reachable is not False:
                log.warning(
                    "clock: cannot read the emulator's clock at %s (%s); keeping the last reading",
                    self.base_url,
                    type(exc).__name__,
                )
            self._reachable = False
            return False
        with self._lock:
            self._offset = epoch - self._real()
            self._frozen_at = epoch if frozen else None
        if self._reachable is not True:
            log.info("clock: following the emulator's clock at %s (now %s ET)", self.base_url, iso_et(epoch))
        self._reachable = True
        return True


def host_offset(clock: Clock) -> float:
    """How many seconds ``clock`` is ahead of the host's clock (exactly 0 for the system clock)."""
    if isinstance(clock, SystemClock):
        return 0.0
    return clock.now() - time.time()


def describe_clock(clock: Clock) -> str:
    """One line for ``etradectl status``: which clock the daemon reasons on."""
    if isinstance(clock, SystemClock):
        return "this computer's clock"
    offset = host_offset(clock)
    name = getattr(clock, "description", type(clock).__name__)
    if abs(offset) < 1:
        return f"{name} (in step with this computer's clock)"
    sign = "+" if offset >= 0 else "-"
    seconds = int(abs(offset))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    shift = (
        f"{sign}{days}d {hours:02d}:{minutes:02d}:{secs:02d}" if days else f"{sign}{hours:02d}:{minutes:02d}:{secs:02d}"
    )
    return f"{name} ({shift} from this computer's clock)"


class ClockWatch:
    """Detects jumps of a clock by comparing each reading with the host's monotonic time."""

    def __init__(
        self,
        clock: Clock,
        *,
        threshold: float = JUMP_THRESHOLD,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.threshold = threshold
        self._monotonic = monotonic
        self._last = (clock.now(), monotonic())

    def refresh(self) -> None:
        """Re-read a clock that follows something remote (blocking; run it on a worker thread)."""
        refresh = getattr(self.clock, "refresh", None)
        if callable(refresh):
            refresh()

    def check(self) -> float:
        """The jump since the last check in seconds (0.0 when the clock only ran as expected)."""
        now, mono = self.clock.now(), self._monotonic()
        last_now, last_mono = self._last
        self._last = (now, mono)
        jump = now - (last_now + (mono - last_mono))
        if abs(jump) < self.threshold:
            return 0.0
        log.info("clock: the clock jumped by %+.0f s (now %s ET); re-checking the session", jump, iso_et(now))
        return jump
