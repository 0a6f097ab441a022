"""The fill watcher against the emulator: each status change published once (also across restarts and for
orders placed outside the daemon), its List Orders requests within the Orders rate limit, and none while
nothing is working.

Most tests drive the watcher's pauses with a fake time source: a round happens only when the test wakes
the watcher (or an order kicks it), and the test waits, bounded, for the round to finish. Requests are
counted at the emulator.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from daemon.app import build_watcher
from daemon.events import Event, EventKind, Subscription
from daemon.orders.watcher import FillWatcher, WatchState
from emulator import Emulator
from emulator.limits import DEFAULT_RATE_LIMITS
from tests.daemon.fake_time import FakeTime
from tests.emulator.conftest import login as emulator_login
from tests.emulator.test_orders import order_body, preview_and_place
from tests.support import admin, requests_to
from tests.trading import Trader, last_price, session_emulator, spec, trading_daemon

pytestmark = pytest.mark.anyio

BOUND = 15.0  # seconds: every wait on the watcher is bounded


@dataclass
class Watched:
    trader: Trader
    watcher: FillWatcher
    time: FakeTime
    events: Subscription

    def state(self) -> WatchState:
        return self.watcher.state

    async def round_done(self, after: int) -> None:
        await self.watcher.wait_for(lambda w: w.rounds > after and w.state is not WatchState.STOPPED, BOUND)
        await self.time.settle()  # and into its next pause

    async def wake(self) -> None:
        """Let the watcher's pause run out, and wait until the round it starts has finished."""
        before = self.watcher.rounds
        await self.time.wake_next()
        await self.round_done(before)

    def status_events(self) -> list[dict[str, str]]:
        """The ORDER_STATUS_CHANGED events published so far (attributes, with the account as ``account``)."""
        seen: list[Event] = []
        while not self.events._queue.empty():
            item = self.events._queue.get_nowait()
            if isinstance(item, Event) and item.kind is EventKind.ORDER_STATUS_CHANGED:
                seen.append(item)
        return [{"account": e.subject, **e.attributes} for e in seen]


@asynccontextmanager
async def watched(emulator: Emulator, directory: Path, **overrides: Any) -> AsyncIterator[Watched]:
    """A logged-in trading daemon whose fill watcher pauses on a fake clock; started, first round done."""
    overrides.setdefault("fill_watch_interval_seconds", 10.0)
    overrides.setdefault("fill_watch_idle_check_seconds", 300.0)
    async with trading_daemon(emulator, directory, **overrides) as trader:
        app = trader.app
        fake = FakeTime(auto_advance=False)
        watcher = build_watcher(app.settings, app.session, app.accounts, app.orders, app.clock, time_source=fake)
        subscription = app.events.subscribe([EventKind.ORDER_STATUS_CHANGED])
        watcher.start()
        try:
            running = Watched(trader, watcher, fake, subscription)
            await running.round_done(0)
            yield running
        finally:
            subscription.close()
            await watcher.close()


async def place_through_daemon(trader: Trader, key: str, **fields: Any) -> int:
    response = await trader.model.preview_order(spec(key, **fields))
    pending_id = response.pending.pending_id
    placed = await trader.model.place_confirmed(pending_id, await trader.code_of(pending_id))
    return placed.order_id


def below_market(emulator: Emulator, symbol: str = "KO") -> str:
    """A buy limit under the market: it rests until the price comes down to it."""
    return f"{last_price(emulator, symbol) * 0.9:.2f}"


def fill_at_emulator(emulator: Emulator, symbol: str, limit: str) -> None:
    """The market comes down through the limit, and the emulator's clock moves on so the order fills."""
    admin(emulator.base_url, "prices", {"symbol": symbol, "price": float(limit) * 0.95})
    emulator.clock.advance(timedelta(seconds=2))


def open_keys(trader: Trader) -> list[str]:
    return [a.account_id_key for a in trader.emulator.book.accounts() if a.is_open]


async def test_an_order_placed_through_the_daemon_and_filled_is_published_filled_exactly_once(
    session_emu: Emulator, short_dir: Path
) -> None:
    async with watched(session_emu, short_dir) as w:
        trader = w.trader
        assert w.state() is WatchState.IDLE  # nothing working yet
        key = trader.account_key()
        limit = below_market(session_emu)
        order_id = await place_through_daemon(trader, key, price_type="LIMIT", limit_price=limit)
        await w.round_done(1)  # the placement woke the idle watcher at once
        assert w.state() is WatchState.WATCHING and w.time.pending_wakeups() == [10.0]

        fill_at_emulator(session_emu, "KO", limit)
        await w.wake()
        assert w.state() is WatchState.IDLE
        await w.wake()  # the idle check finds nothing new
        await w.wake()

        events = w.status_events()
        assert [(e["order_id"], e["previous_status"], e["status"]) for e in events] == [
            (str(order_id), "", "OPEN"),
            (str(order_id), "OPEN", "EXECUTED"),
        ]
        filled = events[1]
        assert filled["account"] == key and filled["symbol"] == "KO" and filled["side"] == "BUY"
        assert filled["quantity"] == "2" and filled["filled_quantity"] == "2"
        assert filled["placed_by"] == "this_system" and float(filled["average_price"]) <= float(limit)

        # A client listing the same orders later does not announce the fill again.
        await trader.model.list_orders(key)
        assert w.status_events() == []
        [fill] = (await trader.model.recent_fills()).fills
        assert (fill.order_id, fill.status, fill.filled_quantity, fill.placed_by) == (
            order_id,
            "EXECUTED",
            "2",
            "this_system",
        )


async def test_a_fill_while_the_daemon_was_down_is_published_once_by_the_next_daemon(
    session_emu: Emulator, short_dir: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    async with trading_daemon(session_emu, short_dir, state_dir=state) as trader:
        key = trader.account_key()
        limit = below_market(session_emu)
        order_id = await place_through_daemon(trader, key, price_type="LIMIT", limit_price=limit)
    fill_at_emulator(session_emu, "KO", limit)  # between the two daemons

    async with watched(session_emu, short_dir, state_dir=state) as w:
        assert [(e["order_id"], e["previous_status"], e["status"], e["placed_by"]) for e in w.status_events()] == [
            (str(order_id), "OPEN", "EXECUTED", "this_system")
        ]
        assert w.state() is WatchState.IDLE

    async with watched(session_emu, short_dir, state_dir=state) as w:  # and once more: nothing repeats
        await w.wake()
        assert w.status_events() == []
        assert [f.order_id for f in (await w.trader.model.recent_fills(key)).fills] == [order_id]


async def test_orders_placed_outside_the_daemon_are_noticed_and_history_is_not(
    session_emu: Emulator, short_dir: Path
) -> None:
    outside = emulator_login(session_emu)  # E*TRADE's web site, as far as the daemon can tell
    try:
        key = next(a.account_id_key for a in session_emu.book.accounts() if a.account_mode == "MARGIN" and a.is_open)
        before_watching = preview_and_place(outside, session_emu, key, order_body("PEP", client_order_id="old1"))
        session_emu.clock.advance(timedelta(seconds=2))  # the market order fills: history by the time we look

        async with watched(session_emu, short_dir) as w:
            assert w.status_events() == []  # the first look takes a baseline: what closed before stays silent
            limit = below_market(session_emu)
            resting = preview_and_place(
                outside, session_emu, key, order_body("KO", quantity=3, price_type="LIMIT", limit=limit)
            )
            quick = preview_and_place(outside, session_emu, key, order_body("PEP", client_order_id="quick1"))
            session_emu.clock.advance(timedelta(seconds=2))  # the market order fills before anyone looks
            await w.wake()  # the idle check
            events = w.status_events()
            assert sorted((e["order_id"], e["previous_status"], e["status"], e["placed_by"]) for e in events) == sorted(
                [(str(resting), "", "OPEN", "outside"), (str(quick), "", "EXECUTED", "outside")]
            )
            assert w.state() is WatchState.WATCHING

            fill_at_emulator(session_emu, "KO", limit)
            await w.wake()
            assert [(e["order_id"], e["previous_status"], e["status"], e["placed_by"]) for e in w.status_events()] == [
                (str(resting), "OPEN", "EXECUTED", "outside")
            ]
            assert w.state() is WatchState.IDLE
            fills = (await w.trader.model.recent_fills()).fills
            assert [f.order_id for f in fills] == [resting, quick]
            assert before_watching not in [f.order_id for f in fills]
    finally:
        outside.close()


async def test_the_watcher_stops_polling_when_nothing_is_working(session_emu: Emulator, short_dir: Path) -> None:
    async with watched(session_emu, short_dir) as w:
        trader = w.trader
        accounts = len(open_keys(trader))
        listed = requests_to(session_emu, "orders_list")
        assert listed == accounts  # the first round: every open account once
        key = trader.account_key()
        limit = below_market(session_emu)
        await place_through_daemon(trader, key, price_type="LIMIT", limit_price=limit)
        await w.round_done(1)
        assert requests_to(session_emu, "orders_list") == listed + 1  # only the account with a working order
        await w.wake()
        await w.wake()
        assert requests_to(session_emu, "orders_list") == listed + 3
        fill_at_emulator(session_emu, "KO", limit)
        await w.wake()
        stopped_at = requests_to(session_emu, "orders_list")
        assert w.state() is WatchState.IDLE
        # Idle: the next look is the slow check for outside orders, not the 10 s poll.
        assert w.time.pending_wakeups() == [300.0]
        await asyncio.sleep(0)
        assert requests_to(session_emu, "orders_list") == stopped_at
        await w.wake()
        assert requests_to(session_emu, "orders_list") == stopped_at + accounts
        assert w.time.pending_wakeups() == [300.0]


async def test_with_idle_checks_off_an_idle_watcher_waits_for_an_order(session_emu: Emulator, short_dir: Path) -> None:
    async with watched(session_emu, short_dir, fill_watch_idle_check_seconds=0.0) as w:
        assert w.state() is WatchState.IDLE and w.time.pending_wakeups() == []  # no timer at all
        listed = requests_to(session_emu, "orders_list")
        limit = below_market(session_emu)
        await place_through_daemon(w.trader, w.trader.account_key(), price_type="LIMIT", limit_price=limit)
        await w.round_done(1)
        assert requests_to(session_emu, "orders_list") == listed + 1


async def test_failed_rounds_back_off_and_recover(session_emu: Emulator, short_dir: Path) -> None:
    async with watched(session_emu, short_dir) as w:
        limit = below_market(session_emu)
        await place_through_daemon(w.trader, w.trader.account_key(), price_type="LIMIT", limit_price=limit)
        await w.round_done(1)
        fault = {"match": "orders_list", "status": 500}
        admin(session_emu.base_url, "faults", fault)
        failures = w.watcher.failures
        await w.time.wake_next()
        await w.watcher.wait_for(lambda x: x.failures > failures, BOUND)
        await w.time.settle()
        assert w.state() is WatchState.BACKING_OFF and w.time.pending_wakeups() == [10.0]
        await w.time.wake_next()
        await w.watcher.wait_for(lambda x: x.failures > failures + 1, BOUND)
        await w.time.settle()
        assert w.time.pending_wakeups() == [20.0]  # doubled
        admin(session_emu.base_url, "faults", method="DELETE")
        await w.wake()
        assert w.state() is WatchState.WATCHING and w.time.pending_wakeups() == [10.0]


async def test_polls_stay_within_the_orders_rate_limit(short_dir: Path) -> None:
    """Real time here: the watcher polls as fast as it may (interval ~0), the daemon's limiter paces it, and
    the emulator — enforcing E*TRADE's 2 requests per second for Orders — refuses none."""
    with session_emulator(rate_limits=dict(DEFAULT_RATE_LIMITS)) as emu:
        overrides: dict[str, Any] = {
            "fill_watch_interval_seconds": 0.001,
            "orders_requests_per_second": 1.8,  # the defaults
            "orders_burst": 2.0,
        }
        async with trading_daemon(emu, short_dir, **overrides) as trader:
            limit = below_market(emu)
            await place_through_daemon(trader, trader.account_key(), price_type="LIMIT", limit_price=limit)
            trader.app.watcher.start()
            await trader.app.watcher.wait_for(lambda w: w.rounds >= 6, 30.0)
            await trader.app.watcher.close()
            stats = emu.stats()
            assert stats["rate_limited_by_module"].get("orders", 0) == 0
            assert stats["requests_by_route"]["orders_list"] >= 6
            assert trader.app.watcher.failures == 0


async def test_a_cancel_and_an_expiry_are_published_once_each(session_emu: Emulator, short_dir: Path) -> None:
    async with watched(session_emu, short_dir) as w:
        trader = w.trader
        key = trader.account_key()
        limit = below_market(session_emu)
        cancelled = await place_through_daemon(trader, key, price_type="LIMIT", limit_price=limit)
        expiring = await place_through_daemon(
            trader, key, symbol="PEP", price_type="LIMIT", limit_price=below_market(session_emu, "PEP")
        )
        await w.round_done(1)
        pending = (await trader.model.request_cancel(key, cancelled)).pending
        await trader.model.cancel_confirmed(pending.pending_id, await trader.code_of(pending.pending_id))
        session_emu.clock.advance(timedelta(seconds=2))  # the emulator completes the cancel
        await w.wake()
        session_emu.clock.advance(timedelta(hours=5, minutes=1))  # past 16:00 ET: the day order expires
        await w.wake()
        await w.wake()
        assert w.state() is WatchState.IDLE
        assert [(e["order_id"], e["previous_status"], e["status"]) for e in w.status_events()] == [
            (str(cancelled), "", "OPEN"),
            (str(expiring), "", "OPEN"),
            (str(cancelled), "OPEN", "CANCEL_REQUESTED"),
            (str(cancelled), "CANCEL_REQUESTED", "CANCELLED"),
            (str(expiring), "OPEN", "EXPIRED"),
        ]
        assert (await trader.model.recent_fills()).fills == []  # neither filled
