"""The daemon's timers: APScheduler 3.x ``AsyncIOScheduler`` jobs that call :class:`SessionKeeper`.

Started inside the running event loop (``BrokerApp.start_jobs``); jobs live in memory and are
re-created at every start. Each job's logic is a plain async method of the keeper, which
re-checks the session on the daemon's clock, so every job tolerates running late or twice.

| job id | trigger | misfire grace / coalesce | why |
|---|---|---|---|
| ``session-renewal`` | date: ``renew_after`` after the last request, re-armed after every run, login, renewal and clock jump | none (always run, however late) / yes | a missed renewal must still happen once, late is better than never |
| ``session-midnight-expiry`` | daily 00:00 America/New_York | none / yes | after a sleep through midnight, expire once on wake |
| ``session-expiry-warning`` | daily ``expiry_warning_minutes`` before 00:00 ET | the warning lead / yes | a warning after midnight is pointless |
| ``session-login-reminder`` | mon-fri at ``login_reminder`` ET | 6 h / yes | still useful later in the trading day, once |
| ``clock-watch`` | interval: 30 s (emulator: ``emulator_clock_poll``) | the interval / yes | notices clock jumps (see below) |
| ``session-catch-up`` | once at start | none | a restored session may be due for renewal |

Wall-clock triggers: :class:`EasternTimeTrigger`, an APScheduler trigger that computes each fire
time on the America/New_York calendar with zoneinfo, so midnight stays midnight across the DST
changes (2026-03-08 is 23 hours long, 2026-11-01 is 25 hours long; tests check the fire times).
Not APScheduler 3.11.3's ``CronTrigger``: it adds wall-clock differences in UTC and, after firing
at 00:00 on 2026-03-08, next fires on 2026-03-10, skipping the midnight that ends the 23-hour day
(agronholm/apscheduler#529, #606; ``tests/rpc/daemon/test_scheduler.py`` keeps a canary on it).

Clocks. APScheduler times jobs on the host's clock (its timer is the event loop's monotonic
clock). In the emulator environment the daemon's clock is the emulator's, so every cron trigger
is wrapped in :class:`DaemonClockTrigger`, which asks the cron for the next occurrence on the
daemon's clock and converts it back to host time; with the host's clock (production, sandbox)
the wrapper is the identity. A clock can jump: the emulator's when a test moves it, the host's
when a laptop resumes from sleep (the monotonic timer stood still) or NTP steps it. The
``clock-watch`` job reads the clock (re-reading a remote emulator's), and on a jump recomputes
every trigger, re-arms the renewal and runs :meth:`SessionKeeper.catch_up`. Its regular wake-ups
also make APScheduler notice overdue jobs within one interval after a resume.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from daemon.clock import ET, Clock, iso_et
from daemon.etrade.emulator_clock import ClockWatch, host_offset
from daemon.session import SessionManager
from daemon.session.keeper import SessionKeeper

log = logging.getLogger(__name__)

RENEWAL = "session-renewal"
MIDNIGHT = "session-midnight-expiry"
WARNING = "session-expiry-warning"
REMINDER = "session-login-reminder"
CLOCK_WATCH = "clock-watch"
CATCH_UP = "session-catch-up"

#: Host-clock watch interval outside the emulator environment.
HOST_CLOCK_WATCH_INTERVAL = 30.0
REMINDER_GRACE = 6 * 3600

_DESCRIPTIONS = {
    RENEWAL: "renew the idle E*TRADE token and verify it",
    MIDNIGHT: "end the session at midnight US Eastern",
    WARNING: "warn that the session ends at midnight US Eastern",
    REMINDER: "weekday-morning reminder to log in",
    CLOCK_WATCH: "notice clock jumps (sleep/resume, a moved emulator clock)",
    CATCH_UP: "catch up on session work after start-up",
}


def new_scheduler() -> AsyncIOScheduler:
    """An AsyncIOScheduler (not started) with explicit defaults; every job also sets its own."""
    return AsyncIOScheduler(timezone=ET, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60})


_WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAYS = frozenset(range(5))


class EasternTimeTrigger(BaseTrigger):  # type: ignore[misc]
    """Fires at a wall-clock time of America/New_York, every day or on the given weekdays (0 = Monday).

    Each candidate is built on the Eastern calendar date with zoneinfo, never by adding hours.
    A time that does not exist that day (02:30 on spring-forward day) maps to the instant zoneinfo
    gives it (03:30 EDT); a repeated time (01:30 on fall-back day) fires once.
    """

    def __init__(self, at: time_of_day, weekdays: frozenset[int] | None = None) -> None:
        self.at = at.replace(tzinfo=None)
        self.weekdays = weekdays

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        # The first fire time after the previous one (or at/after now for the first), so the
        # scheduler can enumerate, then coalesce, runs missed while asleep.
        start = now.astimezone(UTC)
        if previous_fire_time is not None:
            # Strictly after the previous fire time, even if the host clock went backwards.
            start = previous_fire_time.astimezone(UTC) + timedelta(microseconds=1)
        day = start.astimezone(ET).date()
        for _ in range(9):
            # Round trip through UTC: a skipped wall time (02:30 on spring-forward day) becomes a real one.
            candidate = datetime.combine(day, self.at, tzinfo=ET).astimezone(UTC).astimezone(ET)
            if candidate >= start and (self.weekdays is None or day.weekday() in self.weekdays):
                return candidate
            day += timedelta(days=1)
        return None

    def __str__(self) -> str:
        days = "daily" if self.weekdays is None else ",".join(_WEEKDAY_NAMES[d] for d in sorted(self.weekdays))
        return f"{days} at {self.at:%H:%M} America/New_York"

    def __repr__(self) -> str:
        return f"<EasternTimeTrigger ({self})>"


def midnight_trigger() -> EasternTimeTrigger:
    """00:00 America/New_York, every day (never skipped or repeated: DST changes happen at 02:00)."""
    return EasternTimeTrigger(time_of_day(0, 0))


def warning_trigger(minutes_before: int) -> EasternTimeTrigger:
    """``minutes_before`` midnight America/New_York, every day."""
    if not 0 < minutes_before <= 720:
        raise ValueError("the expiry warning must come 1 to 720 minutes before midnight")
    hour, minute = divmod(24 * 60 - minutes_before, 60)
    return EasternTimeTrigger(time_of_day(hour, minute))


def reminder_trigger(at: time_of_day) -> EasternTimeTrigger:
    """Monday to Friday at ``at`` America/New_York."""
    return EasternTimeTrigger(at, WEEKDAYS)


def parse_reminder(value: str) -> time_of_day | None:
    """The ``login_reminder`` setting (``HH:MM`` or ``off``) as a time of day."""
    if value == "off":
        return None
    hours, minutes = value.split(":")
    return time_of_day(int(hours), int(minutes))


class DaemonClockTrigger(BaseTrigger):  # type: ignore[misc]
    """Fires when the daemon's clock (not the host's) reaches the inner trigger's times."""

    def __init__(self, inner: BaseTrigger, clock: Clock) -> None:
        self.inner = inner
        self.clock = clock

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        offset = host_offset(self.clock)
        if offset == 0.0:
            result: datetime | None = self.inner.get_next_fire_time(previous_fire_time, now)
            return result
        # Shift in UTC: aware arithmetic in a DST zone would be wall-clock arithmetic.
        shift = timedelta(seconds=offset)
        previous = previous_fire_time.astimezone(UTC) + shift if previous_fire_time is not None else None
        upcoming = self.inner.get_next_fire_time(previous, now.astimezone(UTC) + shift)
        return None if upcoming is None else upcoming.astimezone(UTC) - shift

    def __str__(self) -> str:
        return f"{self.inner} on the daemon's clock"

    def __repr__(self) -> str:
        return f"<DaemonClockTrigger {self.inner!r}>"


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    """One job for status displays; ``next_run`` in epoch seconds on the daemon's clock."""

    id: str
    description: str
    next_run: float | None
    trigger: str


class SessionJobs:
    """The session's jobs on one AsyncIOScheduler."""

    def __init__(
        self,
        scheduler: AsyncIOScheduler,
        keeper: SessionKeeper,
        session: SessionManager,
        clock: Clock,
        *,
        warning_minutes: int,
        reminder_at: time_of_day | None,
        watch: ClockWatch | None,
        watch_interval: float,
    ) -> None:
        self.scheduler = scheduler
        self.keeper = keeper
        self.session = session
        self.clock = clock
        self.warning_minutes = warning_minutes
        self.reminder_at = reminder_at
        self.watch = watch
        self.watch_interval = watch_interval
        self._cron: dict[str, BaseTrigger] = {}
        self._installed = False

    def install(self) -> None:
        """Add every job (before or after ``scheduler.start()``)."""
        if self._installed:
            return
        self._installed = True
        add = self.scheduler.add_job
        self._cron[MIDNIGHT] = midnight_trigger()
        add(
            self.keeper.expire_at_midnight,
            self._on_clock(MIDNIGHT),
            id=MIDNIGHT,
            name=_DESCRIPTIONS[MIDNIGHT],
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )
        if self.warning_minutes > 0:
            self._cron[WARNING] = warning_trigger(self.warning_minutes)
            add(
                self.keeper.warn_before_expiry,
                self._on_clock(WARNING),
                id=WARNING,
                name=_DESCRIPTIONS[WARNING],
                misfire_grace_time=self.warning_minutes * 60,
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )
        if self.reminder_at is not None:
            self._cron[REMINDER] = reminder_trigger(self.reminder_at)
            add(
                self.keeper.remind_to_log_in,
                self._on_clock(REMINDER),
                id=REMINDER,
                name=_DESCRIPTIONS[REMINDER],
                misfire_grace_time=REMINDER_GRACE,
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )
        if self.watch is not None:
            add(
                self._watch_clock,
                IntervalTrigger(seconds=self.watch_interval, timezone=ET),
                id=CLOCK_WATCH,
                name=_DESCRIPTIONS[CLOCK_WATCH],
                misfire_grace_time=max(1, int(self.watch_interval)),
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )
        add(
            self._catch_up,
            DateTrigger(run_date=None, timezone=ET),
            id=CATCH_UP,
            name=_DESCRIPTIONS[CATCH_UP],
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )
        self.session.add_listener(self.arm_renewal)
        self.arm_renewal()

    def _on_clock(self, job_id: str) -> DaemonClockTrigger:
        return DaemonClockTrigger(self._cron[job_id], self.clock)

    def start(self) -> None:
        """Install the jobs and start the scheduler; must run inside the daemon's event loop."""
        self.install()
        self.scheduler.start()
        log.info("scheduler: started (%s)", ", ".join(f"{j.id} {_when(j.next_run)}" for j in self.describe()))

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def host_time(self, at: float) -> datetime:
        """The host instant at which the daemon's clock will read ``at``."""
        return datetime.now(UTC) + timedelta(seconds=at - self.clock.now())

    def arm_renewal(self) -> None:
        """(Re)schedule the renewal for the session's next renewal time, or drop it."""
        due = self.session.next_renewal_at()
        if due is None:
            if self.scheduler.get_job(RENEWAL) is not None:
                self.scheduler.remove_job(RENEWAL)
            return
        self.scheduler.add_job(
            self._renew,
            DateTrigger(run_date=self.host_time(due), timezone=ET),
            id=RENEWAL,
            name=_DESCRIPTIONS[RENEWAL],
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )

    async def _renew(self) -> None:
        try:
            await self.keeper.renew_if_idle()
        finally:
            self.arm_renewal()

    async def _catch_up(self) -> None:
        await self.keeper.catch_up()
        self.arm_renewal()

    async def _watch_clock(self) -> None:
        watch = self.watch
        assert watch is not None
        if callable(getattr(watch.clock, "refresh", None)):
            await asyncio.to_thread(watch.refresh)
        if watch.check():
            self.on_clock_jump()
            await self._catch_up()

    def on_clock_jump(self) -> None:
        """Recompute every daemon-clock trigger (the offset to the host's clock changed)."""
        for job_id in self._cron:
            if self.scheduler.get_job(job_id) is not None:
                self.scheduler.reschedule_job(job_id, trigger=self._on_clock(job_id))
        self.arm_renewal()

    def describe(self) -> list[ScheduledJob]:
        """The jobs and their next run times on the daemon's clock."""
        offset = host_offset(self.clock)
        jobs = []
        for job in self.scheduler.get_jobs():
            next_run: datetime | None = getattr(job, "next_run_time", None)
            if next_run is None and job.id == RENEWAL:
                next_run = job.trigger.run_date
            at = next_run.timestamp() + offset if next_run is not None else None
            jobs.append(ScheduledJob(job.id, _DESCRIPTIONS.get(job.id, str(job.name)), at, str(job.trigger)))
        return sorted(jobs, key=lambda j: (j.next_run is None, j.next_run or 0.0))


def _when(at: float | None) -> str:
    return "(paused)" if at is None else f"at {iso_et(at)} ET"
