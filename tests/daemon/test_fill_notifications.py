"""From a fill at the emulator to the human's channels: exactly one "filled" notification per subscribed
channel — for an order placed through the daemon, for one that filled while the daemon was down, and for
one placed outside the daemon (E*TRADE's web site, as far as the daemon can tell).

The fill watcher pauses on a fake time source (a round happens when the test wakes it); the channels are
apprise ``json://`` URLs on a loopback receiver; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from daemon.app import build_watcher
from daemon.notifications import config as names
from daemon.notifications.config import ChannelConfig
from daemon.orders.watcher import FillWatcher, WatchState
from emulator import Emulator
from tests.daemon.fake_time import FakeTime
from tests.daemon.test_fill_watcher import BOUND, below_market, fill_at_emulator, place_through_daemon
from tests.emulator.conftest import login as emulator_login
from tests.emulator.test_orders import order_body, preview_and_place
from tests.notify_receiver import Receiver, receiver
from tests.trading import Trader, trading_daemon

pytestmark = pytest.mark.anyio

CHANNELS = (
    ChannelConfig("phone", events=frozenset({names.ORDER_FILLED})),
    ChannelConfig("hook", events=frozenset({names.ORDER_FILLED, names.ORDER_PLACED})),
    ChannelConfig("quiet", events=frozenset({names.TRADING_HALTED})),  # not subscribed to fills
)


class Watching:
    def __init__(self, trader: Trader, watcher: FillWatcher, time: FakeTime) -> None:
        self.trader, self.watcher, self.time = trader, watcher, time

    async def round_done(self, after: int) -> None:
        await self.watcher.wait_for(lambda w: w.rounds > after and w.state is not WatchState.STOPPED, BOUND)
        await self.time.settle()

    async def wake(self) -> None:
        before = self.watcher.rounds
        await self.time.wake_next()
        await self.round_done(before)

    async def delivered(self, count: int) -> None:
        """Until the hub has finished ``count`` deliveries (each channel delivers on its own thread)."""
        hub = self.trader.app.notifications
        assert hub is not None
        for _ in range(int(BOUND * 100)):
            if sum(h.delivered + h.failed for h in hub.health()) >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"the hub did not finish {count} deliveries in time")


@asynccontextmanager
async def watching(emulator: Emulator, directory: Path, rx: Receiver, **overrides: Any) -> AsyncIterator[Watching]:
    """A trading daemon with the channels above (URLs stored before the watcher's first look)."""
    async with trading_daemon(emulator, directory, notification_channels=CHANNELS, **overrides) as trader:
        for channel in CHANNELS:
            await trader.operator.store_channel_secret(channel.name, rx.url("json", channel.name))
        app = trader.app
        fake = FakeTime(auto_advance=False)
        watcher = build_watcher(app.settings, app.session, app.accounts, app.orders, app.clock, time_source=fake)
        watcher.start()
        try:
            running = Watching(trader, watcher, fake)
            await running.round_done(0)
            yield running
        finally:
            await watcher.close()


def filled_notices(rx: Receiver) -> list[tuple[str, str]]:
    """(channel, title) of every "filled" notification the receiver got so far."""
    found = []
    for request in rx.drain():
        title = json.loads(request.body)["title"]
        if "filled" in title:
            found.append((request.path.strip("/"), title))
    return sorted(found)


async def test_a_fill_is_told_once_per_subscribed_channel_also_across_a_restart(
    session_emu: Emulator, short_dir: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    with receiver() as rx:
        async with watching(session_emu, short_dir, rx, state_dir=state) as w:
            key = w.trader.account_key()
            limit = below_market(session_emu)
            first = await place_through_daemon(w.trader, key, price_type="LIMIT", limit_price=limit)
            await w.round_done(1)
            fill_at_emulator(session_emu, "KO", limit)
            await w.wake()
            await w.wake()  # later looks find nothing new
            await w.delivered(3)  # "placed" to hook; "filled" to phone and hook
        assert filled_notices(rx) == [
            ("hook", f"E*TRADE: Order {first} filled"),
            ("phone", f"E*TRADE: Order {first} filled"),
        ]

        # Placed by one daemon, filled while none runs, told by the next — once.
        async with trading_daemon(session_emu, short_dir, state_dir=state) as trader:
            limit = below_market(session_emu)
            second = await place_through_daemon(trader, key, price_type="LIMIT", limit_price=limit)
        fill_at_emulator(session_emu, "KO", limit)
        async with watching(session_emu, short_dir, rx, state_dir=state) as w:
            await w.wake()
            await w.delivered(2)
        assert filled_notices(rx) == [
            ("hook", f"E*TRADE: Order {second} filled"),
            ("phone", f"E*TRADE: Order {second} filled"),
        ]

        async with watching(session_emu, short_dir, rx, state_dir=state) as w:  # a third daemon repeats nothing
            await w.wake()
            assert w.watcher.state is WatchState.IDLE
        assert filled_notices(rx) == []


async def test_an_order_placed_outside_the_daemon_is_told_when_it_fills(session_emu: Emulator, short_dir: Path) -> None:
    outside = emulator_login(session_emu)  # E*TRADE's web site, as far as the daemon can tell
    try:
        with receiver() as rx:
            async with watching(session_emu, short_dir, rx) as w:
                key = w.trader.account_key()
                limit = below_market(session_emu)
                resting = preview_and_place(
                    outside, session_emu, key, order_body("KO", quantity=3, price_type="LIMIT", limit=limit)
                )
                await w.wake()  # the periodic look for orders placed elsewhere
                assert w.watcher.state is WatchState.WATCHING
                fill_at_emulator(session_emu, "KO", limit)
                await w.wake()
                await w.delivered(3)  # "placed" to hook; "filled" to phone and hook
            assert filled_notices(rx) == [
                ("hook", f"E*TRADE: Order {resting} filled"),
                ("phone", f"E*TRADE: Order {resting} filled"),
            ]
    finally:
        outside.close()
