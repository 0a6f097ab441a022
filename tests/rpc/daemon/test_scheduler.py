"""The scheduler's wiring: which jobs exist, their triggers, misfire settings and next run times.

The jobs' logic is tested in test_session_lifetime.py by calling the keeper directly; here the
real AsyncIOScheduler runs inside the test's event loop and we read what it would do.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path

import pytest

from broker_client.client import BrokerClient
from daemon.app import BrokerApp, build_app
from daemon.clock import ET, SystemClock
from daemon.etrade.emulator_clock import ClockWatch, EmulatorClock, RemoteEmulatorClock
from daemon.rpc.server import start_server
from daemon.scheduler import (
    CLOCK_WATCH,
    MIDNIGHT,
    REMINDER,
    RENEWAL,
    WARNING,
    DaemonClockTrigger,
    midnight_trigger,
    reminder_trigger,
    warning_trigger,
)
from daemon.secret_store import MemorySecretStore
from daemon.settings import Settings
from emulator import Emulator
from tests.harness.daemons import daemon_settings, login
from tests.harness.support import admin

pytestmark = pytest.mark.anyio


def et(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(ET)


def fire_times(trigger: object, start: str, count: int) -> list[str]:
    times: list[str] = []
    previous = None
    now = et(start)
    for _ in range(count):
        nxt = trigger.get_next_fire_time(previous, now)  # type: ignore[attr-defined]
        times.append(nxt.isoformat())
        previous, now = nxt, nxt
    return times


def test_midnight_trigger_is_midnight_new_york_across_both_dst_changes() -> None:
    assert fire_times(midnight_trigger(), "2026-03-07T12:00:00-05:00", 3) == [
        "2026-03-08T00:00:00-05:00",
        "2026-03-09T00:00:00-04:00",  # 23 hours later
        "2026-03-10T00:00:00-04:00",
    ]
    assert fire_times(midnight_trigger(), "2026-10-31T12:00:00-04:00", 3) == [
        "2026-11-01T00:00:00-04:00",
        "2026-11-02T00:00:00-05:00",  # 25 hours later
        "2026-11-03T00:00:00-05:00",
    ]


def test_canary_apscheduler_cron_still_skips_the_midnight_after_spring_forward() -> None:
    """Why the daemon has its own EasternTimeTrigger: APScheduler 3.11's CronTrigger, after firing
    at 00:00 on 2026-03-08, next fires on 2026-03-10 (agronholm/apscheduler#529). When this test
    fails, APScheduler is fixed and CronTrigger could be used again."""
    from apscheduler.triggers.cron import CronTrigger

    cron = CronTrigger(hour=0, minute=0, second=0, timezone=ET)
    assert fire_times(cron, "2026-03-07T12:00:00-05:00", 2)[1] == "2026-03-10T00:00:00-04:00"


def test_warning_and_reminder_triggers() -> None:
    assert fire_times(warning_trigger(15), "2026-03-08T12:00:00-04:00", 2) == [
        "2026-03-08T23:45:00-04:00",
        "2026-03-09T23:45:00-04:00",
    ]
    # Friday 2026-03-06 after 09:00, then Monday: weekends are skipped, DST does not shift 09:00.
    assert fire_times(reminder_trigger(time_of_day(9, 0)), "2026-03-06T10:00:00-05:00", 2) == [
        "2026-03-09T09:00:00-04:00",
        "2026-03-10T09:00:00-04:00",
    ]
    with pytest.raises(ValueError):
        warning_trigger(0)


def test_times_that_dst_skips_or_repeats_fire_once() -> None:
    from daemon.scheduler import EasternTimeTrigger

    # 02:30 does not exist on 2026-03-08: it fires at 03:30 EDT (the same instant as 02:30 EST).
    assert fire_times(EasternTimeTrigger(time_of_day(2, 30)), "2026-03-08T00:00:00-05:00", 2) == [
        "2026-03-08T03:30:00-04:00",
        "2026-03-09T02:30:00-04:00",
    ]
    # 01:30 happens twice on 2026-11-01: it fires once, at the first.
    assert fire_times(EasternTimeTrigger(time_of_day(1, 30)), "2026-11-01T00:00:00-04:00", 2) == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
    ]


def test_a_daemon_clock_trigger_fires_on_the_emulators_midnight(emulator: Emulator) -> None:
    emulator.clock.set(datetime.fromisoformat("2026-03-07T23:00:00-05:00"))  # running clock: fixed offset
    trigger = DaemonClockTrigger(midnight_trigger(), EmulatorClock(emulator.clock))
    host_now = datetime.now(UTC)
    fire = trigger.get_next_fire_time(None, host_now)
    assert fire is not None
    # One hour of daemon time before midnight ET is one hour of host time.
    assert abs((fire - host_now).total_seconds() - 3600) < 2
    assert DaemonClockTrigger(midnight_trigger(), SystemClock()).get_next_fire_time(None, host_now) == (
        midnight_trigger().get_next_fire_time(None, host_now)
    )


@pytest.fixture
async def running(emulator: Emulator, short_dir: Path) -> AsyncIterator[BrokerApp]:
    """A daemon with its scheduler started, on a running emulator clock far from the host's."""
    emulator.clock.set(datetime.fromisoformat("2026-03-07T10:00:00-05:00"))  # Saturday
    settings = daemon_settings(emulator, socket=short_dir / "s" / "broker.sock")
    app = await build_app(settings, clock=EmulatorClock(emulator.clock), store=MemorySecretStore())
    server, lock = await start_server(app, settings.resolved_socket())
    app.start_jobs()
    try:
        yield app
    finally:
        await server.stop(None)
        await app.close()
        lock.release()


def next_run_et(app: BrokerApp, job_id: str) -> str | None:
    for job in app.jobs.describe():
        if job.id == job_id:
            return None if job.next_run is None else datetime.fromtimestamp(round(job.next_run), ET).isoformat()
    raise AssertionError(f"no job {job_id}")


async def test_the_started_scheduler_has_every_job_with_explicit_misfire_and_coalesce(running: BrokerApp) -> None:
    scheduler = running.jobs.scheduler
    assert scheduler.running
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {MIDNIGHT, WARNING, REMINDER, CLOCK_WATCH}  # no renewal: nobody is logged in
    assert jobs[MIDNIGHT].misfire_grace_time is None and jobs[MIDNIGHT].coalesce is True
    assert jobs[WARNING].misfire_grace_time == 15 * 60 and jobs[WARNING].coalesce is True
    assert jobs[REMINDER].misfire_grace_time == 6 * 3600 and jobs[REMINDER].coalesce is True
    assert all(job.max_instances == 1 for job in jobs.values())
    # Next runs on the daemon's (emulator's) clock, in New York time.
    assert next_run_et(running, MIDNIGHT) == "2026-03-08T00:00:00-05:00"
    assert next_run_et(running, WARNING) == "2026-03-07T23:45:00-05:00"
    assert next_run_et(running, REMINDER) == "2026-03-09T09:00:00-04:00"


async def test_the_renewal_job_follows_logins_calls_and_logouts(running: BrokerApp) -> None:
    async with running_client(running) as client:
        await login(client)
        assert next_run_et(running, RENEWAL) == "2026-03-07T11:30:00-05:00"
        job = running.jobs.scheduler.get_job(RENEWAL)
        assert job.misfire_grace_time is None and job.coalesce is True
        status = await client.get_status()
        by_id = {j.id: j for j in status.jobs}
        assert abs(by_id[RENEWAL].next_run_unix_ms - status.session.next_renewal_unix_ms) < 1000
        assert by_id[MIDNIGHT].trigger == "daily at 00:00 America/New_York on the daemon's clock"
        assert status.clock.startswith("the in-process emulator's clock")
        await client.logout()
        assert running.jobs.scheduler.get_job(RENEWAL) is None


async def test_a_clock_jump_re_arms_every_job_on_the_new_time(running: BrokerApp, emulator: Emulator) -> None:
    async with running_client(running) as client:
        await login(client)
        emulator.clock.advance(timedelta(days=2, minutes=30))  # Monday 10:30: the session died at midnight
        watch_job = running.jobs.scheduler.get_job(CLOCK_WATCH)
        await watch_job.func()  # what the scheduler runs every interval
        assert next_run_et(running, MIDNIGHT) == "2026-03-10T00:00:00-04:00"
        assert next_run_et(running, REMINDER) == "2026-03-10T09:00:00-04:00"
        assert running.jobs.scheduler.get_job(RENEWAL) is None
        status = (await client.get_status()).session
        assert status.login_reminder.startswith("Monday 2026-03-09")  # caught up on the missed reminder


def running_client(app: BrokerApp) -> BrokerClient:
    return BrokerClient(app.settings.resolved_socket())


def test_a_clock_watch_reports_jumps_not_drift(emulator: Emulator) -> None:
    ticks = iter([0.0, 1.0, 2.0, 3.0])
    watch = ClockWatch(EmulatorClock(emulator.clock), monotonic=lambda: next(ticks))
    emulator.clock.freeze()
    emulator.clock.advance(timedelta(seconds=1))
    assert watch.check() == 0.0  # ran as expected
    emulator.clock.advance(timedelta(hours=2, seconds=1))
    assert 7199 < watch.check() < 7201
    emulator.clock.advance(timedelta(seconds=1))
    assert watch.check() == 0.0


def test_a_remote_emulator_clock_follows_the_emulator_over_http(emulator: Emulator) -> None:
    clock = RemoteEmulatorClock(emulator.base_url)
    admin(emulator.base_url, "clock", {"set": "2026-11-01T01:30:00-04:00", "freeze": True})
    assert clock.refresh() is True
    assert clock.now() == pytest.approx(datetime.fromisoformat("2026-11-01T01:30:00-04:00").timestamp(), abs=1e-3)
    admin(emulator.base_url, "clock", {"advance_seconds": 3600, "freeze": False})
    assert clock.refresh() is True
    expected = datetime.fromisoformat("2026-11-01T01:30:00-05:00").timestamp()  # the repeated hour
    assert abs(clock.now() - expected) < 5
    unreachable = RemoteEmulatorClock("http://127.0.0.1:9", timeout=0.5)
    assert unreachable.refresh() is False
    assert abs(unreachable.now() - time.time()) < 5  # falls back to the host's clock, never crashes


async def test_the_emulator_clock_never_drives_production_or_sandbox(emulator: Emulator) -> None:
    for environment in ("production", "sandbox"):
        with pytest.raises(ValueError, match="never drive"):
            await build_app(Settings(environment=environment), clock=EmulatorClock(emulator.clock))
    app = await build_app(Settings(environment="sandbox", desktop_notifications=False), store=MemorySecretStore())
    try:
        assert isinstance(app.clock, SystemClock)
        assert app.clock_description() == "this computer's clock"
    finally:
        await app.close()
