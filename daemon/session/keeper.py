"""What the daemon does on its own to keep the E*TRADE session alive, and to call a human when needed.

Each scheduled job of ``daemon/scheduler.py`` is one plain async method here, so tests drive them
directly after moving the emulator's clock (no sleeps, no scheduler), and the wiring is tested
separately. Every method re-checks the session on the daemon's clock before acting, so running one
late, early, twice, or after a clock jump is harmless:

- :meth:`SessionKeeper.renew_if_idle` — ``renew_after`` minutes after the last request (default 90,
  well under E*TRADE's two-hour idle limit) renew the token and verify the renewal with a real
  signed request;
- :meth:`SessionKeeper.expire_at_midnight` — at 00:00 America/New_York the token is dead: the
  session becomes EXPIRED and the token is deleted from the secret store;
- :meth:`SessionKeeper.warn_before_expiry` — ``expiry_warning_minutes`` before midnight ET, a
  warning in the log and on the desktop;
- :meth:`SessionKeeper.remind_to_log_in` — on a weekday morning (default 09:00 ET, half an hour
  before the market opens) with a dead session: a reminder in the status
  (``etradectl status``, the MCP resource) and a desktop notification, once per day;
- :meth:`SessionKeeper.catch_up` — after start-up or a clock jump (sleep/resume, a moved emulator
  clock): all of the above that became due meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date, time

from broker_client.errors import LOGIN_COMMAND, BrokerError, SessionError
from daemon.clock import ET, Clock, iso_et, to_datetime
from daemon.events import EventBus, EventKind
from daemon.session.manager import SessionManager
from daemon.session.state import LIVE_STATES, SETUP_COMMAND, SessionState

log = logging.getLogger(__name__)

#: Shows a desktop notification (title, body); False when the platform has none.
Notifier = Callable[[str, str], bool]

MARKET_OPEN = time(9, 30)
MARKET_CLOSE = time(16, 0)

_DEAD = {
    SessionState.NO_CREDENTIALS: "E*TRADE is not set up (no consumer key)",
    SessionState.NEEDS_LOGIN: "you are not logged in to E*TRADE",
    SessionState.EXPIRED: "the E*TRADE session expired at midnight US Eastern",
    SessionState.REVOKED: "you logged out of E*TRADE",
}


class SessionKeeper:
    """The session jobs' logic. ``notifier`` is None when desktop notifications are off."""

    def __init__(
        self,
        session: SessionManager,
        clock: Clock,
        *,
        warning_minutes: int = 15,
        reminder_at: time | None = time(9, 0),
        notifier: Notifier | None = None,
        events: EventBus | None = None,
    ) -> None:
        self.session = session
        self._events = events
        self.clock = clock
        self.warning_minutes = warning_minutes
        self.reminder_at = reminder_at
        self._notifier = notifier
        self._reminded_on: date | None = None
        self._warned_for: float | None = None
        # The renewal job and a catch-up after a clock jump can come due together: one renews,
        # the other then finds nothing due.
        self._renewing = asyncio.Lock()

    async def _notify(self, title: str, body: str) -> bool:
        if self._notifier is None:
            return False
        try:
            return await asyncio.to_thread(self._notifier, title, body)
        except Exception:  # a desktop problem must never break a session job
            log.exception("notify: the desktop notification failed")
            return False

    async def renew_if_idle(self) -> bool:
        """Renew (and verify) when ``renew_after`` has passed since the last request. True if renewed."""
        async with self._renewing:
            return await self._renew_if_due()

    async def _renew_if_due(self) -> bool:
        due = self.session.next_renewal_at()
        if due is None or self.clock.now() < due:
            return False
        try:
            await self.session.renew(f"no request for {self.session.renew_after / 60:.0f} minutes", verify=True)
        except SessionError as exc:
            log.warning("session: the idle session could not be renewed: %s", exc.message)
            await self._notify("E*TRADE: log in again", f"{exc.message}.")
            return False
        except BrokerError as exc:
            log.warning("session: the renewal failed (%s); trying again on the next request or job", exc.message)
            return False
        return True

    async def expire_at_midnight(self) -> bool:
        """Mark the session EXPIRED once midnight ET has passed and delete the dead token."""
        expired = await self.session.expire_if_due()
        if expired:
            log.info("session: E*TRADE ended the session at midnight US Eastern; log in again with `%s`", LOGIN_COMMAND)
        return expired

    async def warn_before_expiry(self) -> bool:
        """Warn (log + desktop) when the live session ends within ``warning_minutes``."""
        if self.warning_minutes <= 0 or self.session.state not in LIVE_STATES:
            return False
        expires = self.session.expires_at()
        if expires is None or self._warned_for == expires:
            return False
        left = expires - self.clock.now()
        # A minute of slack: the job fires on the host's timer, the check reads the daemon's clock.
        if not 0 < left <= self.warning_minutes * 60 + 60:
            return False
        self._warned_for = expires
        minutes = max(1, round(left / 60))
        message = (
            f"the E*TRADE session ends at midnight US Eastern, in {minutes} min ({iso_et(expires)}); "
            f"after that log in again with `{LOGIN_COMMAND}`"
        )
        log.warning("session: %s", message)
        if self._events is not None:
            self._events.publish(EventKind.SESSION_EXPIRING, iso_et(expires), minutes_left=str(minutes))
        await self._notify("E*TRADE session ends soon", message)
        return True

    async def remind_to_log_in(self) -> bool:
        """On a weekday morning with a dead session: a reminder in the status and on the desktop."""
        if self.reminder_at is None:
            return False
        now_et = to_datetime(self.clock.now()).astimezone(ET)
        window_end = MARKET_CLOSE if self.reminder_at < MARKET_CLOSE else time.max
        if now_et.weekday() >= 5 or not self.reminder_at <= now_et.time() < window_end:
            return False
        state = self.session.state
        if state in LIVE_STATES or self._reminded_on == now_et.date():
            return False
        self._reminded_on = now_et.date()
        fix = SETUP_COMMAND if state is SessionState.NO_CREDENTIALS else LOGIN_COMMAND
        day = now_et.strftime("%A %Y-%m-%d")
        text = f"{day}: {_DEAD[state]}; run `{fix}` (the market opens at {MARKET_OPEN:%H:%M} ET)"
        self.session.set_reminder(text)
        log.warning("reminder: %s", text)
        if self._events is not None:
            self._events.publish(EventKind.LOGIN_REMINDER, state.value, text=text, command=fix)
        await self._notify("E*TRADE: log in", text)
        return True

    async def catch_up(self) -> None:
        """After start-up or a clock jump: whatever became due meanwhile, in the right order."""
        await self.expire_at_midnight()
        await self.renew_if_idle()
        await self.warn_before_expiry()
        await self.remind_to_log_in()
