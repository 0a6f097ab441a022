"""A day in the life of a session, on the emulator's clock: idle limits, renewal, midnight ET, DST, restarts.

The daemon reasons on the emulator's clock (``EmulatorClock``); the tests move that clock and then
drive the session jobs (``app.keeper``) directly, exactly as the scheduler would call them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from broker_client.client import BrokerClient
from broker_client.errors import ErrorCode, SessionError
from daemon.app import BrokerApp, build_app
from daemon.clock import SystemClock
from daemon.etrade.emulator_clock import EmulatorClock
from daemon.rpc.server import start_server
from daemon.secret_store import ACCESS_TOKEN, ACCESS_TOKEN_ISSUED_AT, ACCESS_TOKEN_SECRET, MemorySecretStore
from daemon.session import SessionState
from emulator import Emulator
from protos.broker.v1 import session_pb2
from tests.harness.daemons import RunningDaemon, daemon_settings, login
from tests.harness.support import admin, requests_to

pytestmark = pytest.mark.anyio

TUESDAY_10AM = "2026-03-10T10:00:00-04:00"


def set_clock(emulator: Emulator, iso: str) -> None:
    emulator.clock.set(datetime.fromisoformat(iso))
    emulator.clock.freeze()


def advance(emulator: Emulator, **delta: float) -> None:
    emulator.clock.advance(timedelta(**delta))


def emulator_token_states(emulator: Emulator) -> list[str]:
    return [s["state"] for s in admin(emulator.base_url, "sessions")["sessions"]]


@pytest.fixture
async def client(daemon: RunningDaemon) -> AsyncIterator[BrokerClient]:
    async with daemon.client() as c:
        yield c


async def state_of(client: BrokerClient) -> str:
    status = await client.get_status()
    return session_pb2.SessionState.Name(status.session.state).removeprefix("SESSION_STATE_")


# --- idle limit and renewal ------------------------------------------------------------------


async def test_idle_1h59_then_a_call_works_without_any_renewal(daemon: RunningDaemon, client: BrokerClient) -> None:
    set_clock(daemon.emulator, TUESDAY_10AM)
    await login(client)
    advance(daemon.emulator, hours=1, minutes=59)
    assert await state_of(client) == "ACTIVE"
    quotes = await client.get_quotes(["AAPL"])
    assert [q.symbol for q in quotes.quotes] == ["AAPL"]
    assert requests_to(daemon.emulator, "renew_access_token") == 0


async def test_the_renewal_job_renews_after_90_idle_minutes_and_verifies_with_a_signed_call(
    daemon: RunningDaemon, client: BrokerClient
) -> None:
    set_clock(daemon.emulator, TUESDAY_10AM)
    await login(client)
    keeper = daemon.app.keeper
    login_status = await client.get_status()
    assert login_status.session.next_renewal_et == "2026-03-10T11:30:00-04:00"

    advance(daemon.emulator, minutes=89)
    assert await keeper.renew_if_idle() is False  # not due: nothing goes upstream
    assert requests_to(daemon.emulator, "renew_access_token") == 0

    advance(daemon.emulator, minutes=6)  # 11:35, 95 minutes idle
    assert await keeper.renew_if_idle() is True
    assert requests_to(daemon.emulator, "renew_access_token") == 1
    assert requests_to(daemon.emulator, "accounts_list") == 1  # the verifying signed request
    status = (await client.get_status()).session
    assert status.last_renewal_result == "renewed and verified by a signed request"
    assert status.next_renewal_et == "2026-03-10T13:05:00-04:00"

    advance(daemon.emulator, minutes=95)  # 13:10: 95 minutes after the renewal, 3 h 10 after login
    assert await keeper.renew_if_idle() is True
    advance(daemon.emulator, minutes=95)  # 14:45: 4 h 45 without a single client call
    assert await keeper.renew_if_idle() is True
    assert emulator_token_states(daemon.emulator) == ["ACTIVE"]

    quotes = await client.get_quotes(["MSFT"])
    assert [q.symbol for q in quotes.quotes] == ["MSFT"]
    assert requests_to(daemon.emulator, "renew_access_token") == 3  # the call needed none


async def test_calls_move_the_renewal_later(daemon: RunningDaemon, client: BrokerClient) -> None:
    set_clock(daemon.emulator, TUESDAY_10AM)
    await login(client)
    advance(daemon.emulator, minutes=60)
    await client.get_quotes(["AAPL"])
    advance(daemon.emulator, minutes=60)  # 2 h after login, 1 h after the last call
    assert await daemon.app.keeper.renew_if_idle() is False
    session = (await client.get_status()).session
    assert session.next_renewal_et == "2026-03-10T12:30:00-04:00"
    assert session.last_upstream_call_et == "2026-03-10T11:00:00-04:00"
    assert requests_to(daemon.emulator, "renew_access_token") == 0


async def test_past_two_idle_hours_the_next_call_renews_once_and_works(
    daemon: RunningDaemon, client: BrokerClient
) -> None:
    set_clock(daemon.emulator, TUESDAY_10AM)
    await login(client)
    advance(daemon.emulator, hours=2, minutes=1)  # no renewal job ran (say the laptop slept)
    assert emulator_token_states(daemon.emulator) == ["INACTIVE"]
    status = (await client.get_status()).session
    assert status.state == session_pb2.SESSION_STATE_INACTIVE
    assert status.fix_command == ""  # the daemon fixes this itself
    quotes = await client.get_quotes(["AAPL"])
    assert [q.symbol for q in quotes.quotes] == ["AAPL"]
    assert requests_to(daemon.emulator, "renew_access_token") == 1
    assert await state_of(client) == "ACTIVE"


async def test_fifty_concurrent_quotes_while_inactive_share_one_renewal(
    daemon: RunningDaemon, client: BrokerClient
) -> None:
    set_clock(daemon.emulator, TUESDAY_10AM)
    await login(client)
    advance(daemon.emulator, hours=2, minutes=30)
    quote_requests_before = requests_to(daemon.emulator, "quote")
    refused_before = daemon.emulator.stats()["oauth_failures_total"]
    results = await asyncio.gather(*(client.get_quotes(["AAPL"]) for _ in range(50)))
    assert all([q.symbol for q in r.quotes] == ["AAPL"] for r in results)
    assert requests_to(daemon.emulator, "renew_access_token") == 1
    assert daemon.emulator.stats()["oauth_failures_total"] == refused_before  # none was sent on the idle token
    # The quote cache coalesces the 50 into one upstream request (issue 5).
    assert requests_to(daemon.emulator, "quote") - quote_requests_before == 1


@asynccontextmanager
async def daemon_on_host_clock(
    emulator: Emulator, store: MemorySecretStore, short_dir: Path
) -> AsyncIterator[BrokerClient]:
    """A daemon that does NOT follow the emulator's clock, so only E*TRADE's 401s tell it what happened."""
    app = await build_app(daemon_settings(emulator), clock=SystemClock(), store=store)
    assert app.clock_description() == "this computer's clock"
    server, lock = await start_server(app, short_dir / "host" / "broker.sock")
    try:
        async with BrokerClient(short_dir / "host" / "broker.sock") as client:
            yield client
    finally:
        await server.stop(None)
        await app.close()
        lock.release()


async def test_fifty_concurrent_quotes_rejected_as_idle_share_one_renewal_and_all_succeed(
    emulator: Emulator, short_dir: Path
) -> None:
    async with daemon_on_host_clock(emulator, MemorySecretStore(), short_dir) as client:
        await login(client)
        emulator.clock.advance(timedelta(hours=2, minutes=5))  # the daemon cannot know
        results = await asyncio.gather(*(client.get_quotes(["AAPL"]) for _ in range(50)))
        assert all([q.symbol for q in r.quotes] == ["AAPL"] for r in results)
        assert requests_to(emulator, "renew_access_token") == 1
        # The quote cache coalesces the 50 into one upstream request (issue 5): E*TRADE refused it
        # as idle (token_rejected), the daemon renewed once and retried once — never a second refusal.
        refused = emulator.stats()["oauth_failures_by_problem"]["token_rejected"]
        assert refused == 1
        assert requests_to(emulator, "quote") == 1 + refused


async def test_fifty_concurrent_quotes_at_expiry_never_try_to_renew(emulator: Emulator, short_dir: Path) -> None:
    store = MemorySecretStore()
    async with daemon_on_host_clock(emulator, store, short_dir) as client:
        await login(client)
        emulator.clock.advance(timedelta(days=1))  # past midnight ET, unknown to the daemon
        results = await asyncio.gather(*(client.get_quotes(["AAPL"]) for _ in range(50)), return_exceptions=True)
        assert all(isinstance(r, SessionError) and r.code is ErrorCode.SESSION_EXPIRED for r in results)
        assert requests_to(emulator, "renew_access_token") == 0
        assert requests_to(emulator, "quote") <= 50  # each at most once; later ones fail locally
        status = (await client.get_status()).session
        assert status.state == session_pb2.SESSION_STATE_EXPIRED
        assert status.fix_command == "etradectl auth login"
    assert store.get(ACCESS_TOKEN) is None  # the dead token is deleted


async def test_a_token_refused_even_after_renewal_means_login_without_looping(
    daemon: RunningDaemon, client: BrokerClient
) -> None:
    set_clock(daemon.emulator, TUESDAY_10AM)
    await login(client)
    # Someone revoked the token elsewhere (E*TRADE's website, another tool): renew cannot help.
    session = daemon.app.session
    consumer, access = session.require_active()
    daemon.app.upstream.http.revoke(consumer, access)
    with pytest.raises(SessionError) as caught:
        await client.get_quotes(["AAPL"])
    assert caught.value.code is ErrorCode.NOT_LOGGED_IN
    assert "etradectl auth login" in caught.value.message
    assert requests_to(daemon.emulator, "renew_access_token") == 1
    assert requests_to(daemon.emulator, "quote") == 1
    with pytest.raises(SessionError):
        await client.get_quotes(["AAPL"])
    assert requests_to(daemon.emulator, "quote") == 1  # now refused locally: never hammer
    assert daemon.store.get(ACCESS_TOKEN) is None


async def test_a_failed_renewal_request_keeps_the_session_and_the_next_call_retries(
    daemon: RunningDaemon, client: BrokerClient
) -> None:
    set_clock(daemon.emulator, TUESDAY_10AM)
    await login(client)
    advance(daemon.emulator, hours=2, minutes=1)
    # E*TRADE keeps failing the renewal: the call fails clearly, the session stays renewable.
    daemon.emulator.faults.add({"match": "renew_access_token", "status": 503})
    with pytest.raises(Exception) as caught:
        await client.get_quotes(["AAPL"])
    assert getattr(caught.value, "code", None) is ErrorCode.UPSTREAM_ERROR
    assert await state_of(client) == "INACTIVE"
    failed_renewals = requests_to(daemon.emulator, "renew_access_token")
    assert failed_renewals >= 1
    daemon.emulator.faults.clear()
    quotes = await client.get_quotes(["AAPL"])
    assert [q.symbol for q in quotes.quotes] == ["AAPL"]
    assert requests_to(daemon.emulator, "renew_access_token") == failed_renewals + 1
    assert await state_of(client) == "ACTIVE"


async def test_a_transient_renewal_failure_is_retried_within_the_call(
    daemon: RunningDaemon, client: BrokerClient
) -> None:
    set_clock(daemon.emulator, TUESDAY_10AM)
    await login(client)
    advance(daemon.emulator, hours=2, minutes=1)
    daemon.emulator.faults.add({"match": "renew_access_token", "status": 503, "count": 1})
    quotes = await client.get_quotes(["AAPL"])  # the gateway's read retry renews again
    assert [q.symbol for q in quotes.quotes] == ["AAPL"]
    assert requests_to(daemon.emulator, "renew_access_token") == 2


# --- midnight US Eastern ---------------------------------------------------------------------


async def test_midnight_et_expires_the_session_and_calls_answer_with_the_fix(
    daemon: RunningDaemon, client: BrokerClient
) -> None:
    set_clock(daemon.emulator, "2026-03-10T22:30:00-04:00")
    await login(client)
    status = (await client.get_status()).session
    assert status.expires_at_et == "2026-03-11T00:00:00-04:00"
    set_clock(daemon.emulator, "2026-03-10T23:59:59-04:00")
    await client.get_quotes(["AAPL"])  # renews (idle 1.5 h < 2 h, so no) and works
    set_clock(daemon.emulator, "2026-03-11T00:00:01-04:00")

    status = (await client.get_status()).session
    assert status.state == session_pb2.SESSION_STATE_EXPIRED
    assert status.fix_command == "etradectl auth login"
    assert status.expires_at_et == "2026-03-11T00:00:00-04:00"  # when it ended
    quote_requests = requests_to(daemon.emulator, "quote")
    with pytest.raises(SessionError) as caught:
        await client.get_quotes(["AAPL"])
    assert caught.value.code is ErrorCode.SESSION_EXPIRED
    assert "etradectl auth login" in caught.value.message
    assert "midnight US Eastern" in caught.value.hint
    assert requests_to(daemon.emulator, "quote") == quote_requests  # known locally: nothing sent
    assert requests_to(daemon.emulator, "renew_access_token") == 0

    assert daemon.store.get(ACCESS_TOKEN) is None  # the call path already dropped the dead token
    assert daemon.store.get(ACCESS_TOKEN_ISSUED_AT)  # remembered: a restart reports EXPIRED


async def test_the_midnight_job_deletes_the_dead_token(daemon: RunningDaemon, client: BrokerClient) -> None:
    set_clock(daemon.emulator, "2026-03-10T23:00:00-04:00")
    await login(client)
    keeper = daemon.app.keeper
    assert await keeper.expire_at_midnight() is False
    assert daemon.store.get(ACCESS_TOKEN)
    set_clock(daemon.emulator, "2026-03-11T00:00:00-04:00")
    assert await keeper.expire_at_midnight() is True
    assert daemon.store.get(ACCESS_TOKEN) is None and daemon.store.get(ACCESS_TOKEN_SECRET) is None
    assert await keeper.renew_if_idle() is False  # an expired session is never renewed
    assert requests_to(daemon.emulator, "renew_access_token") == 0


@pytest.mark.parametrize(
    ("logged_in", "still_alive", "expires_et", "dead"),
    [
        # Spring forward: 2026-03-08 has 23 hours; midnight is 04:00 UTC, not 05:00.
        ("2026-03-08T01:30:00-05:00", "2026-03-08T23:59:00-04:00", "2026-03-09T00:00:00-04:00", "2026-03-09T00:00:01-04:00"),
        # Fall back: 2026-11-01 has 25 hours; midnight is 05:00 UTC, not 04:00.
        ("2026-11-01T00:30:00-04:00", "2026-11-01T23:30:00-05:00", "2026-11-02T00:00:00-05:00", "2026-11-02T00:00:01-05:00"),
    ],
    ids=["2026-03-08", "2026-11-01"],
)  # fmt: skip
async def test_midnight_is_right_on_the_dst_change_days(
    daemon: RunningDaemon, client: BrokerClient, logged_in: str, still_alive: str, expires_et: str, dead: str
) -> None:
    set_clock(daemon.emulator, logged_in)
    await login(client)
    assert (await client.get_status()).session.expires_at_et == expires_et
    set_clock(daemon.emulator, still_alive)
    # Idle for a whole day: the call renews first, and the emulator agrees the token is alive.
    quotes = await client.get_quotes(["AAPL"])
    assert [q.symbol for q in quotes.quotes] == ["AAPL"]
    assert requests_to(daemon.emulator, "renew_access_token") == 1
    set_clock(daemon.emulator, dead)
    assert await state_of(client) == "EXPIRED"
    assert emulator_token_states(daemon.emulator) == ["EXPIRED"]
    with pytest.raises(SessionError) as caught:
        await client.get_quotes(["AAPL"])
    assert caught.value.code is ErrorCode.SESSION_EXPIRED


# --- restarts and logins ---------------------------------------------------------------------


async def restart(emulator: Emulator, store: MemorySecretStore) -> BrokerApp:
    return await build_app(daemon_settings(emulator), clock=EmulatorClock(emulator.clock), store=store)


async def test_a_restart_mid_day_keeps_the_session(daemon: RunningDaemon, client: BrokerClient) -> None:
    set_clock(daemon.emulator, TUESDAY_10AM)
    await login(client)
    advance(daemon.emulator, minutes=30)
    app = await restart(daemon.emulator, daemon.store)
    try:
        assert app.session.state is SessionState.ACTIVE
        batch = await app.market.quotes(["AAPL"])
        assert [q.symbol for q in batch.quotes] == ["AAPL"]
        assert requests_to(daemon.emulator, "access_token") == 1  # no new login
    finally:
        await app.close()


async def test_a_restart_mid_day_after_a_long_pause_renews_before_use(
    daemon: RunningDaemon, client: BrokerClient
) -> None:
    set_clock(daemon.emulator, TUESDAY_10AM)
    await login(client)
    advance(daemon.emulator, hours=3)  # the daemon was stopped; the token went idle upstream
    app = await restart(daemon.emulator, daemon.store)
    try:
        assert app.session.state is SessionState.INACTIVE
        batch = await app.market.quotes(["AAPL"])
        assert [q.symbol for q in batch.quotes] == ["AAPL"]
        assert requests_to(daemon.emulator, "renew_access_token") == 1
        assert app.session.info().state is SessionState.ACTIVE
    finally:
        await app.close()


async def test_a_restart_after_midnight_loads_the_session_as_expired(
    daemon: RunningDaemon, client: BrokerClient
) -> None:
    set_clock(daemon.emulator, "2026-03-10T21:00:00-04:00")
    await login(client)
    set_clock(daemon.emulator, "2026-03-11T08:00:00-04:00")  # the daemon was down over midnight
    app = await restart(daemon.emulator, daemon.store)
    try:
        info = app.session.info()
        assert info.state is SessionState.EXPIRED
        assert info.fix_command == "etradectl auth login"
        assert "before the last midnight" in info.detail
        with pytest.raises(SessionError) as caught:
            await app.market.quotes(["AAPL"])
        assert caught.value.code is ErrorCode.SESSION_EXPIRED
        assert daemon.store.get(ACCESS_TOKEN) is None  # deleted at load
        assert requests_to(daemon.emulator, "quote") == 0
    finally:
        await app.close()
    again = await restart(daemon.emulator, daemon.store)  # and again: still EXPIRED, not "never logged in"
    try:
        assert again.session.state is SessionState.EXPIRED
    finally:
        await again.close()


async def test_login_works_while_expired_and_while_active(daemon: RunningDaemon, client: BrokerClient) -> None:
    set_clock(daemon.emulator, "2026-03-10T23:00:00-04:00")
    await login(client)
    first = daemon.store.get(ACCESS_TOKEN)
    set_clock(daemon.emulator, "2026-03-11T09:00:00-04:00")
    assert await state_of(client) == "EXPIRED"
    await login(client)  # while EXPIRED
    second = daemon.store.get(ACCESS_TOKEN)
    assert await state_of(client) == "ACTIVE"
    await login(client)  # while ACTIVE: replaces the token
    third = daemon.store.get(ACCESS_TOKEN)
    assert len({first, second, third}) == 3
    status = (await client.get_status()).session
    assert status.expires_at_et == "2026-03-12T00:00:00-04:00"
    await client.get_quotes(["AAPL"])


async def test_logout_while_expired_deletes_without_calling_upstream(
    daemon: RunningDaemon, client: BrokerClient
) -> None:
    set_clock(daemon.emulator, "2026-03-10T23:00:00-04:00")
    await login(client)
    set_clock(daemon.emulator, "2026-03-11T09:00:00-04:00")
    result = await client.logout()
    assert not result.revoked_upstream
    assert result.session.state == session_pb2.SESSION_STATE_NEEDS_LOGIN
    assert requests_to(daemon.emulator, "revoke_access_token") == 0
    assert daemon.store.get(ACCESS_TOKEN_ISSUED_AT) is None


# --- warnings, reminders, catching up ---------------------------------------------------------


class Desktop:
    """A stand-in for the desktop's notification area (the OS boundary)."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, str]] = []

    def __call__(self, title: str, body: str) -> bool:
        self.shown.append((title, body))
        return True


@pytest.fixture
async def with_desktop(emulator: Emulator, short_dir: Path) -> AsyncIterator[tuple[BrokerApp, Desktop, BrokerClient]]:
    desktop = Desktop()
    app = await build_app(
        daemon_settings(emulator), clock=EmulatorClock(emulator.clock), store=MemorySecretStore(), notifier=desktop
    )
    server, lock = await start_server(app, short_dir / "d" / "broker.sock")
    try:
        async with BrokerClient(short_dir / "d" / "broker.sock") as client:
            yield app, desktop, client
    finally:
        await server.stop(None)
        await app.close()
        lock.release()


async def test_weekday_morning_reminder_with_a_dead_session(
    with_desktop: tuple[BrokerApp, Desktop, BrokerClient], emulator: Emulator
) -> None:
    app, desktop, client = with_desktop
    set_clock(emulator, "2026-03-09T08:59:00-04:00")  # Monday, before the reminder time
    assert await app.keeper.remind_to_log_in() is False
    set_clock(emulator, "2026-03-09T09:00:00-04:00")
    assert await app.keeper.remind_to_log_in() is True
    assert await app.keeper.remind_to_log_in() is False  # once a day
    [(title, body)] = desktop.shown
    assert title == "E*TRADE: log in"
    assert "etradectl auth login" in body and "09:30 ET" in body
    status = (await client.get_status()).session
    assert status.login_reminder == body
    assert "Monday 2026-03-09" in status.login_reminder
    await login(client)
    assert (await client.get_status()).session.login_reminder == ""  # cleared by the login


async def test_no_reminder_on_weekends_or_with_a_live_session(
    with_desktop: tuple[BrokerApp, Desktop, BrokerClient], emulator: Emulator
) -> None:
    app, desktop, client = with_desktop
    set_clock(emulator, "2026-03-14T09:00:00-04:00")  # Saturday
    assert await app.keeper.remind_to_log_in() is False
    set_clock(emulator, "2026-03-16T08:00:00-04:00")  # Monday
    await login(client)
    set_clock(emulator, "2026-03-16T09:00:00-04:00")
    assert await app.keeper.remind_to_log_in() is False
    set_clock(emulator, "2026-03-16T17:00:00-04:00")  # after the close: too late to matter
    await client.logout()
    assert await app.keeper.remind_to_log_in() is False
    assert desktop.shown == []


async def test_warning_before_midnight(
    with_desktop: tuple[BrokerApp, Desktop, BrokerClient], emulator: Emulator
) -> None:
    app, desktop, client = with_desktop
    set_clock(emulator, "2026-03-10T22:00:00-04:00")
    await login(client)
    assert await app.keeper.warn_before_expiry() is False
    set_clock(emulator, "2026-03-10T23:45:00-04:00")
    assert await app.keeper.warn_before_expiry() is True
    assert await app.keeper.warn_before_expiry() is False  # once per session
    [(title, body)] = desktop.shown
    assert title == "E*TRADE session ends soon"
    assert "in 15 min" in body and "2026-03-11T00:00:00-04:00" in body


async def test_catch_up_after_a_jump_past_midnight_into_a_weekday_morning(
    with_desktop: tuple[BrokerApp, Desktop, BrokerClient], emulator: Emulator
) -> None:
    app, desktop, client = with_desktop
    set_clock(emulator, "2026-03-10T20:00:00-04:00")
    await login(client)
    set_clock(emulator, "2026-03-11T10:15:00-04:00")  # the laptop slept through the night
    await app.keeper.catch_up()
    status = (await client.get_status()).session
    assert status.state == session_pb2.SESSION_STATE_EXPIRED
    assert "Wednesday 2026-03-11" in status.login_reminder
    assert [title for title, _ in desktop.shown] == ["E*TRADE: log in"]
    assert requests_to(emulator, "renew_access_token") == 0


async def test_a_renewal_refused_by_etrade_calls_the_human(
    with_desktop: tuple[BrokerApp, Desktop, BrokerClient], emulator: Emulator
) -> None:
    app, desktop, client = with_desktop
    set_clock(emulator, TUESDAY_10AM)
    await login(client)
    consumer, access = app.session.require_active()
    app.upstream.http.revoke(consumer, access)  # revoked elsewhere: renewing cannot help
    advance(emulator, minutes=95)
    assert await app.keeper.renew_if_idle() is False
    status = (await client.get_status()).session
    assert status.state == session_pb2.SESSION_STATE_NEEDS_LOGIN
    assert status.last_renewal_result == "refused by E*TRADE (token_rejected)"
    [(title, body)] = desktop.shown
    assert title == "E*TRADE: log in again" and "etradectl auth login" in body
    assert requests_to(emulator, "renew_access_token") == 1


async def test_a_skewed_computer_clock_is_reported_as_such_and_keeps_the_session(
    daemon: RunningDaemon, client: BrokerClient
) -> None:
    set_clock(daemon.emulator, TUESDAY_10AM)
    await login(client)
    daemon.emulator.faults.add({"clock_skew_seconds": 900})
    with pytest.raises(Exception) as caught:
        await client.get_quotes(["AAPL"])
    assert getattr(caught.value, "code", None) is ErrorCode.UPSTREAM_REJECTED
    assert "clock" in str(caught.value) and "NTP" in getattr(caught.value, "hint", "")
    assert await state_of(client) == "ACTIVE"  # logging in again would not help
    assert requests_to(daemon.emulator, "renew_access_token") == 0
