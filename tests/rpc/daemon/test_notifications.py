"""Notification channels against loopback receivers only: apprise json:// and form://, the signed webhook,
codes to trusted channels only, nothing secret in a log, and a hanging channel delaying nothing."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from broker_client.errors import ErrorCode, NotFound, PolicyRefused, UpstreamError
from daemon.clock import SystemClock
from daemon.events import EventBus, EventKind
from daemon.notifications.hub import NotificationHub
from daemon.notifications.messages import render
from daemon.notifications.webhook import WebhookSender
from daemon.secret_store import MemorySecretStore
from daemon.settings import SettingsError, load_settings
from daemon.settings import notifications as names
from daemon.settings.notifications import ChannelConfig, mask_url, parse_channels
from tests.harness.daemons import RunningDaemon, login
from tests.harness.notify_receiver import WAIT_SECONDS, Receiver, receiver
from tests.harness.processes import child_env
from tests.harness.trading import Trader, session_emulator, spec, trading_daemon

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[3]
SIGNING_SECRET = "0123456789abcdef0123456789abcdef"


def documented_verify() -> Callable[..., bool]:
    """The verification function exactly as docs/notifications.md gives it to receivers."""
    text = (ROOT / "docs" / "notifications.md").read_text("utf-8")
    block = text.split("<!-- BEGIN verify recipe -->")[1].split("<!-- END verify recipe -->")[0]
    code = block.split("```python\n")[1].split("```")[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/notifications.md", "exec"), namespace)
    verify: Callable[..., bool] = namespace["verify"]
    return verify


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Bounded polling of in-process state that another thread changes (no fixed sleeps)."""
    for _ in range(int(WAIT_SECONDS * 100)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


async def arrival(rx: Receiver) -> Any:
    """The receiver's next request, waited for off the event loop (the daemon's work runs on it)."""
    return await asyncio.to_thread(rx.next)


def hub_for(channels: tuple[ChannelConfig, ...], urls: dict[str, str]) -> tuple[NotificationHub, EventBus]:
    store = MemorySecretStore()
    for name, url in urls.items():
        store.set(names.url_secret(name), url)
    events = EventBus(SystemClock(), instance_id="test")
    hub = NotificationHub(channels, events=events, store=store, clock=SystemClock(), pending_lookup=lambda _: None)
    return hub, events


# -- apprise channels -------------------------------------------------------------------------------


async def test_json_and_form_channels_receive_a_fill_and_only_the_events_they_asked_for() -> None:
    with receiver() as rx:
        channels = (
            ChannelConfig("j", events=frozenset({names.ORDER_FILLED})),
            ChannelConfig("f", events=frozenset({names.ORDER_FILLED, names.TRADING_HALTED})),
        )
        hub, events = hub_for(channels, {"j": rx.url("json", "j"), "f": rx.url("form", "f")})
        await hub.start()
        try:
            events.publish(EventKind.TRADING_STATE_CHANGED, "disabled", reason="lunch")
            events.publish(
                EventKind.ORDER_STATUS_CHANGED,
                "acct",
                order_id="42",
                status="EXECUTED",
                previous_status="OPEN",
                symbol="KO",
                side="BUY",
                filled_quantity="10",
                average_price="61.50",
            )
            got = sorted([await arrival(rx), await arrival(rx), await arrival(rx)], key=lambda r: (r.path, r.body))
            await wait_until(lambda: sum(h.delivered for h in hub.health()) == 3)
        finally:
            await hub.close()
    assert rx.drain() == []
    form = [parse_qs(r.body.decode()) for r in got if r.path == "/f"]
    assert sorted(f["title"][0] for f in form) == ["E*TRADE: Order 42 filled", "E*TRADE: trading halted"]
    (fill,) = [json.loads(r.body) for r in got if r.path == "/j"]
    assert fill["title"] == "E*TRADE: Order 42 filled"
    assert fill["message"] == "BUY 10 KO at 61.50"


@pytest.mark.parametrize(
    ("attributes", "event", "title", "body"),
    [
        (
            {"order_id": "7", "status": "OPEN", "side": "SELL", "symbol": "KO"},
            "order_placed",
            "Order 7 placed",
            "SELL KO",
        ),
        (
            {
                "order_id": "7",
                "status": "PARTIAL",
                "side": "BUY",
                "symbol": "KO",
                "filled_quantity": "4",
                "quantity": "10",
                "average_price": "61",
            },
            "order_filled",
            "Order 7 partially filled",
            "BUY 4 KO at 61 (4 of 10)",
        ),
        ({"order_id": "7", "status": "CANCELLED"}, "order_cancelled", "Order 7 cancelled", "Order 7 cancelled"),
        ({"order_id": "7", "status": "REJECTED", "symbol": "KO"}, "order_rejected", "Order 7 rejected", "KO"),
        ({"status": "EXPIRED"}, "order_expired", "An order expired", "An order expired"),
        ({}, None, "", ""),
        ({"order_id": "7", "status": "CANCEL_REQUESTED"}, None, "", ""),
    ],
)
def test_order_status_changes_render_and_tolerate_missing_attributes(
    attributes: dict[str, str], event: str | None, title: str, body: str
) -> None:
    bus = EventBus(SystemClock(), instance_id="t")
    rendered = render(bus.publish(EventKind.ORDER_STATUS_CHANGED, "acct", **attributes), lambda _: None)
    if event is None:
        assert rendered is None
        return
    assert rendered is not None
    assert (rendered.event, rendered.title) == (event, f"E*TRADE: {title}")
    assert body in rendered.body


def test_session_trading_and_journal_events_render() -> None:
    bus = EventBus(SystemClock(), instance_id="t")

    def name_of(kind: EventKind, subject: str, **attributes: str) -> str | None:
        rendered = render(bus.publish(kind, subject, **attributes), lambda _: None)
        return None if rendered is None else rendered.event

    assert name_of(EventKind.SESSION_EXPIRING, "2026-12-08T00:00:00-05:00", minutes_left="15") == "session_expiring"
    assert name_of(EventKind.SESSION_STATE_CHANGED, "EXPIRED", previous="ACTIVE") == "session_expired"
    assert name_of(EventKind.SESSION_STATE_CHANGED, "ACTIVE", previous="INACTIVE") is None
    assert name_of(EventKind.LOGIN_REMINDER, "EXPIRED", text="log in") == "login_reminder"
    assert name_of(EventKind.TRADING_STATE_CHANGED, "disabled", reason="x") == "trading_halted"
    assert (
        name_of(EventKind.TRADING_STATE_CHANGED, "disabled", reason="x", cause="circuit_breaker") == "breaker_tripped"
    )
    assert name_of(EventKind.TRADING_STATE_CHANGED, "enabled", reason="resumed") == "trading_resumed"
    assert name_of(EventKind.JOURNAL_ATTENTION, "3", reason="unknown outcome") == "journal_attention"


def test_channel_configuration_is_checked_and_never_holds_a_url(tmp_path: Path) -> None:
    channels = parse_channels({"channels": [{"name": "phone", "events": ["order_filled"], "trusted_for_codes": True}]})
    assert channels == (ChannelConfig("phone", frozenset({"order_filled"}), True),)
    config = tmp_path / "config.toml"
    config.write_text('[[notifications.channels]]\nname = "phone"\nurl = "ntfy://secret-topic"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={}, config_path=config)
    assert "secret-topic" not in caught.value.message and "etradectl notify store phone" in caught.value.message
    config.write_text('[[notifications.channels]]\nname = "phone"\nevents = ["order_filed"]\n')
    with pytest.raises(SettingsError, match="unknown event"):
        load_settings(environ={}, config_path=config)
    config.write_text('[[notifications.channels]]\nname = "phone"\ntype = "webhook"\n')
    settings = load_settings(environ={}, config_path=config)
    assert settings.notification_channels == (ChannelConfig("phone", None, False, "webhook"),)
    env = load_settings(environ={"ETRADE_NOTIFICATION_CHANNELS": '[{"name": "desk"}]'}, config_path=config)
    assert [c.name for c in env.notification_channels] == ["desk"]
    assert settings.public_view()["notification_channels"] == "phone (webhook: all)"
    assert mask_url("ntfys://secret-topic?priority=high") == "ntfys://****"


# -- the signed webhook ---------------------------------------------------------------------------


def test_the_webhook_signature_verifies_with_the_documented_recipe_and_fails_when_tampered_or_old() -> None:
    verify = documented_verify()
    with receiver() as rx:
        sender = WebhookSender(rx.url("http", "hook"), SIGNING_SECRET)
        sender.send("order_filled", "E*TRADE: Order 42 filled", "BUY 10 KO", {"order_id": "42"})
        sender.close()
        got = rx.next()
    timestamp = got.headers["x-etrade-mcp-timestamp"]
    signature = got.headers["x-etrade-mcp-signature"]
    document = json.loads(got.body)
    assert document["event"] == "order_filled" and document["data"] == {"order_id": "42"}
    assert got.headers["x-etrade-mcp-event"] == "order_filled"
    assert verify(SIGNING_SECRET, timestamp, got.body, signature)
    tampered = got.body.replace(b"KO", b"KX")
    assert not verify(SIGNING_SECRET, timestamp, tampered, signature)
    assert not verify("another-secret-of-some-length", timestamp, got.body, signature)
    assert not verify(SIGNING_SECRET, timestamp, got.body, signature, now=int(timestamp) + 301)
    assert not verify(SIGNING_SECRET, str(int(timestamp) - 1), got.body, signature)


def test_the_webhook_retries_with_backoff_and_keeps_its_delivery_id() -> None:
    with receiver() as rx:
        rx.statuses = [503, 500]
        sender = WebhookSender(rx.url("http", "hook"), SIGNING_SECRET, backoff=0.01)
        sender.send("test", "t", "b", {})
        attempts = [rx.next(), rx.next(), rx.next()]
        rx.statuses = [400]
        with pytest.raises(Exception, match="HTTP 400"):
            sender.send("test", "t", "b", {})  # refused by the receiver: not retried
        assert len([rx.next(), *rx.drain()]) == 1
        sender.close()
    assert len({a.headers["x-etrade-mcp-delivery"] for a in attempts}) == 1


# -- through the daemon ---------------------------------------------------------------------------


@pytest.fixture
async def notifying(short_dir: Path) -> AsyncIterator[tuple[Trader, Receiver]]:
    """A trading daemon with a trusted and an untrusted json:// channel and a failing one."""
    channels = (
        ChannelConfig("trusted", trusted_for_codes=True),
        ChannelConfig("plain"),
        ChannelConfig("broken", events=frozenset({names.ORDER_PENDING})),
        ChannelConfig("hook", type="webhook", events=frozenset({names.ORDER_PENDING})),
    )
    with receiver() as rx, session_emulator() as emulator:
        async with trading_daemon(emulator, short_dir, notification_channels=channels) as trader:
            yield trader, rx


async def test_a_pending_orders_code_reaches_trusted_channels_only_and_no_log_holds_a_url_or_code(
    notifying: tuple[Trader, Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    trader, rx = notifying
    caplog.set_level(logging.DEBUG)
    trusted_url = rx.url("json", "trusted-token-abc123")
    plain_url = rx.url("json", "plain-token-def456")
    broken_url = "json://127.0.0.1:9/broken-token-ghi789"  # discard port: nothing listens
    await trader.operator.store_channel_secret("trusted", trusted_url)
    await trader.operator.store_channel_secret("plain", plain_url)
    await trader.operator.store_channel_secret("broken", broken_url)
    await trader.operator.store_channel_secret("hook", rx.url("http", "hook-token-jkl012"), SIGNING_SECRET)
    with pytest.raises(PolicyRefused) as refused:
        await trader.model.store_channel_secret("plain", "json://attacker.example/x")
    assert refused.value.code is ErrorCode.OPERATOR_ONLY

    stream = trader.app.events.subscribe()
    response = await trader.model.preview_order(
        spec(trader.account_key(), "KO", 3, price_type="LIMIT", limit_price="90")
    )
    pending_id = response.pending.pending_id
    code = await trader.code_of(pending_id)
    got = {r.path.split("?")[0]: r for r in [await arrival(rx), await arrival(rx), await arrival(rx)]}
    hub = trader.app.notifications
    assert hub is not None
    await wait_until(lambda: sum(h.failed + h.delivered for h in hub.health()) == 4)

    assert set(got) == {"/trusted-token-abc123", "/plain-token-def456", "/hook-token-jkl012"}
    trusted = json.loads(got["/trusted-token-abc123"].body)
    plain = json.loads(got["/plain-token-def456"].body)
    hook = json.loads(got["/hook-token-jkl012"].body)
    assert "BUY 3 KO" in trusted["message"] and "Estimated total: 270.00 USD" in trusted["message"]
    assert f"Code: {code}" in trusted["message"]
    assert code not in plain["message"] and code.replace("-", "") not in plain["message"]
    assert f"etradectl orders confirm {pending_id}" in plain["message"]
    assert code not in got["/hook-token-jkl012"].body.decode() and "confirmation_code" not in hook["data"]

    # The bus carried no code (every client's Subscribe stream is made of these events).
    stream.close()
    seen = [event async for event in stream]
    assert seen and all(code not in repr(e) and code.replace("-", "") not in repr(e) for e in seen)

    health = {h.name: h for h in hub.health()}
    assert health["broken"].last_error == "rejected" and health["trusted"].delivered == 1
    status = await trader.operator.get_status()
    assert {n.name: n.last_error for n in status.notifications}["broken"] == "rejected"

    listing = await trader.operator.list_channels()
    assert {c.name: c.masked_url for c in listing.channels} == {
        "trusted": "json://****",
        "plain": "json://****",
        "broken": "json://****",
        "hook": "http://****",
    }
    secrets = ["trusted-token-abc123", "plain-token-def456", "broken-token-ghi789", "hook-token-jkl012", SIGNING_SECRET]
    text = caplog.text + str(listing) + str(status)
    for secret in [*secrets, code, code.replace("-", "")]:
        assert secret not in text
    assert "channel broken failed to deliver order_pending (rejected)" in caplog.text


async def test_a_hanging_channel_does_not_delay_a_preview_a_quote_or_a_placement(
    notifying: tuple[Trader, Receiver],
) -> None:
    trader, rx = notifying
    rx.hang = True
    # A long read timeout: the channel stays stuck in its request for the whole test.
    await trader.operator.store_channel_secret("plain", rx.url("json", "plain", rto="120"))
    hub = trader.app.notifications
    assert hub is not None
    hub.dispatch(render(trader.app.events.publish(EventKind.TRADING_STATE_CHANGED, "enabled"), lambda _: None))  # type: ignore[arg-type]
    assert await asyncio.to_thread(rx.arrived.wait, WAIT_SECONDS)  # the channel is now stuck
    for _ in range(150):  # more than its queue holds: the rest are dropped, nothing waits
        trader.app.events.publish(EventKind.TRADING_STATE_CHANGED, "enabled", reason="noise")

    quotes = await trader.model.get_quotes(["KO"])
    response = await trader.model.preview_order(
        spec(trader.account_key(), "KO", 1, price_type="LIMIT", limit_price="90")
    )
    placed = await trader.model.place_confirmed(
        response.pending.pending_id, await trader.code_of(response.pending.pending_id)
    )

    assert quotes.quotes and placed.order_id
    plain = {h.name: h for h in hub.health()}["plain"]
    assert not rx.release.is_set() and plain.delivered == 0 and plain.failed == 0  # still stuck meanwhile
    await wait_until(lambda: {h.name: h for h in hub.health()}["plain"].dropped > 0)


async def test_etradectl_notify_store_list_and_test(notifying: tuple[Trader, Receiver], short_dir: Path) -> None:
    trader, rx = notifying
    home = short_dir / "home"
    home.mkdir()
    url = rx.url("json", "cli-token-mno345")

    async def ctl(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        # Off the loop: the daemon answering this runs on it.
        return await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "cli", "--socket", str(trader.daemon.socket), *args],
            env=child_env(home),
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    stored = await ctl("notify", "store", "plain", stdin=url + "\n")
    assert stored.returncode == 0, stored.stderr
    assert "json://****" in stored.stdout and "cli-token-mno345" not in stored.stdout + stored.stderr
    unknown = await ctl("notify", "store", "nope", stdin=url + "\n")
    assert unknown.returncode == 5 and "no notification channel 'nope'" in unknown.stderr

    tested = await ctl("notify", "test", "plain")
    assert tested.returncode == 0, tested.stderr
    assert re.search(r"plain\s+delivered", tested.stdout)
    assert json.loads((await arrival(rx)).body)["title"] == "etrade-mcp: test notification"

    failing = await ctl("notify", "test", "broken")  # nothing stored
    assert failing.returncode == 6 and "FAILED: no_url" in failing.stdout

    listing = await ctl("--json", "notify", "list")
    channels = {c["name"]: c for c in json.loads(listing.stdout)["channels"]}
    assert channels["plain"]["masked_url"] == "json://****" and channels["trusted"]["trusted_for_codes"] is True
    assert "cli-token-mno345" not in listing.stdout
    status = await ctl("status")
    assert "notify plain" in status.stdout and "last error no_url" in status.stdout
    assert "cli-token-mno345" not in status.stdout


async def test_an_unknown_channel_is_named() -> None:
    hub, _ = hub_for((ChannelConfig("a"),), {})
    with pytest.raises(NotFound) as caught:
        await hub.test("zz")
    assert caught.value.code is ErrorCode.CHANNEL_NOT_FOUND


# -- where the new events are published -----------------------------------------------------------


async def test_the_session_keeper_publishes_the_expiry_warning_and_the_login_reminder(daemon: RunningDaemon) -> None:
    from tests.rpc.daemon.test_session_lifetime import set_clock

    app, emulator = daemon.app, daemon.emulator
    client = daemon.client()
    stream = app.events.subscribe([EventKind.SESSION_EXPIRING, EventKind.LOGIN_REMINDER])
    set_clock(emulator, "2026-03-09T09:00:00-04:00")  # Monday morning, nobody logged in
    assert await app.keeper.remind_to_log_in()
    set_clock(emulator, "2026-03-10T22:00:00-04:00")
    await login(client)
    set_clock(emulator, "2026-03-10T23:45:00-04:00")
    assert await app.keeper.warn_before_expiry()
    await client.close()
    stream.close()
    seen = [(e.kind, e.subject, dict(e.attributes)) async for e in stream if e.sequence]
    reminder, warning = seen
    assert reminder[0] is EventKind.LOGIN_REMINDER and reminder[2]["command"] == "etradectl auth login"
    assert warning == (EventKind.SESSION_EXPIRING, "2026-03-11T00:00:00-04:00", {"minutes_left": "15"})


async def test_an_unknown_outcome_publishes_journal_attention_to_the_channels(short_dir: Path) -> None:
    channels = (ChannelConfig("ops", events=frozenset({names.JOURNAL_ATTENTION})),)
    with receiver() as rx, session_emulator() as emulator:
        async with trading_daemon(emulator, short_dir, upstream_timeout=0.5, notification_channels=channels) as trader:
            await trader.operator.store_channel_secret("ops", rx.url("json", "ops"))
            response = await trader.model.preview_order(spec(trader.account_key()))
            code = await trader.code_of(response.pending.pending_id)
            emulator.faults.add({"match": "order_place", "hold": True, "count": 1})
            with pytest.raises(UpstreamError) as unknown:
                await trader.model.place_confirmed(response.pending.pending_id, code)
            assert unknown.value.code is ErrorCode.ORDER_OUTCOME_UNKNOWN
            got = json.loads((await arrival(rx)).body)
            emulator.release_holds()
    assert got["title"] == "E*TRADE: an order needs your attention"
    assert "PLACE BUY 2 KO" in got["message"] and "etradectl orders journal" in got["message"]


async def test_storing_a_bad_url_is_refused_without_repeating_it() -> None:
    from broker_client.errors import InvalidRequest

    hub, _ = hub_for((ChannelConfig("a"), ChannelConfig("w", type="webhook")), {})
    for name, url, secret in [
        ("a", "nonsense-scheme://token-pqr678", ""),
        ("a", "token-pqr678", ""),
        ("w", "ntfy://token-pqr678", SIGNING_SECRET),
        ("w", "https://example.invalid/token-pqr678", "short"),
    ]:
        with pytest.raises(InvalidRequest) as caught:
            await hub.store_secret(name, url, secret)
        assert "token-pqr678" not in caught.value.message + (caught.value.hint or "")
    assert await hub.store_secret("w", "https://example.invalid/token-pqr678", SIGNING_SECRET) == "https://****"


def test_config_show_lists_the_channels_from_the_file_without_urls(short_dir: Path) -> None:
    home = short_dir / "cfg"
    (home / "config" / "etrade-mcp").mkdir(parents=True)
    (home / "config" / "etrade-mcp" / "config.toml").write_text(
        '[[notifications.channels]]\nname = "phone"\nevents = ["order_filled"]\ntrusted_for_codes = true\n'
    )
    shown = subprocess.run(
        [sys.executable, "-m", "cli", "--json", "config", "show"],
        env=child_env(home),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    rows = {r["setting"]: r for r in json.loads(shown.stdout)["settings"]}
    row = rows["notification_channels"]
    assert (row["value"], row["source"]) == ("phone (apprise: order_filled, trusted for codes)", "config file")


async def test_the_same_status_of_the_same_order_is_told_once() -> None:
    with receiver() as rx:
        hub, events = hub_for((ChannelConfig("j"),), {"j": rx.url("json", "j")})
        await hub.start()
        try:
            events.publish(EventKind.ORDER_STATUS_CHANGED, "acct", order_id="9", status="OPEN", symbol="KO")
            events.publish(EventKind.ORDER_STATUS_CHANGED, "acct", order_id="9", status="OPEN")  # a watcher's sighting
            events.publish(EventKind.ORDER_STATUS_CHANGED, "acct", order_id="9", status="EXECUTED")
            titles = [json.loads((await arrival(rx)).body)["title"] for _ in range(2)]
            await wait_until(lambda: hub.health()[0].delivered == 2)
        finally:
            await hub.close()
    assert titles == ["E*TRADE: Order 9 placed", "E*TRADE: Order 9 filled"]
    assert rx.drain() == []


async def test_an_email_channel_reaches_a_local_smtp_receiver() -> None:
    import queue
    import socket

    from aiosmtpd.controller import Controller

    mail: queue.Queue[bytes] = queue.Queue()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            mail.put(envelope.content)
            return "250 OK"

    with socket.socket() as probe:  # a free loopback port (aiosmtpd cannot take port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(Handler(), hostname="127.0.0.1", port=port)
    smtp.start()
    url = f"mailto://127.0.0.1:{port}?mode=insecure&from=etrade@localhost&to=me@localhost"
    hub, events = hub_for((ChannelConfig("mail", events=frozenset({names.BREAKER_TRIPPED})),), {"mail": url})
    await hub.start()
    try:
        events.publish(EventKind.TRADING_STATE_CHANGED, "disabled", reason="5 refusals", cause="circuit_breaker")
        message = await asyncio.to_thread(mail.get, True, WAIT_SECONDS)
    finally:
        await hub.close()
        smtp.stop()
    assert b"Subject: E*TRADE: circuit breaker tripped" in message and b"etradectl resume" in message


# -- a model previewing in a loop -------------------------------------------------------------------


async def test_a_preview_loop_reaches_a_channel_at_most_the_limit_per_window_then_once_summed_up(
    short_dir: Path,
) -> None:
    from datetime import timedelta

    channels = (ChannelConfig("phone", trusted_for_codes=True),)
    with receiver() as rx, session_emulator() as emulator:
        async with trading_daemon(
            emulator,
            short_dir,
            notification_channels=channels,
            notify_pending_limit=2,
            notify_pending_window_seconds=120.0,  # shorter than a pending order's life (300 s)
            emulator_clock_poll=0.05,
        ) as trader:
            await trader.operator.store_channel_secret("phone", rx.url("json", "phone"))
            events = trader.app.events

            async def preview(quantity: int) -> str:
                order = spec(trader.account_key(), "KO", quantity, price_type="LIMIT", limit_price="90")
                return (await trader.model.preview_order(order)).pending.pending_id

            def fill(order_id: str) -> None:
                # Never capped, and queued behind every notification before it: when it arrives, the
                # ones before it have arrived too.
                events.publish(EventKind.ORDER_STATUS_CHANGED, "acct", order_id=order_id, status="EXECUTED")

            async def titles_until(order_id: str) -> list[str]:
                titles: list[str] = []
                while not titles or titles[-1] != f"E*TRADE: Order {order_id} filled":
                    titles.append(json.loads((await arrival(rx)).body)["title"])
                return titles

            ids = [await preview(quantity) for quantity in range(1, 6)]
            await trader.operator.reject_pending(ids[3])  # one of the held orders no longer waits
            fill("41")
            before_the_window_ends = await titles_until("41")

            emulator.clock.advance(timedelta(seconds=121))  # the hub's timer notices the window ended
            summary = json.loads((await arrival(rx)).body)

            await preview(6)  # a new window: told one by one again
            fill("42")
            after = await titles_until("42")
    assert before_the_window_ends == [*["E*TRADE: an order waits for your approval"] * 2, "E*TRADE: Order 41 filled"]
    assert summary["title"] == "E*TRADE: 2 more orders wait for your approval"
    assert "2 more orders are pending approval; see `etradectl orders pending`" in summary["message"]
    assert "(3 previewed since 2026-03-10T11:00:00-04:00 were not notified one by one)" in summary["message"]
    assert "Code:" not in summary["message"]
    assert after == ["E*TRADE: an order waits for your approval", "E*TRADE: Order 42 filled"]
    assert rx.drain() == []
