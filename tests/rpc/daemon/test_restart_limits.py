"""A restarted daemon keeps to the per-second limit its predecessor shared with it.

Two in-process daemons, one after the other, on one state directory, one socket and one consumer
key; the emulator enforces E*TRADE's market limit (4 requests per second, per consumer key). The
daemons' rate limiters and the emulator's rate-limit windows run on one fake monotonic clock, so
the restart takes no time at all as E*TRADE sees it — the worst case, where the new daemon's first
requests land in the second its predecessor used up — and nothing waits in real time. Quotes are
not cached here, so every ``GetQuotes`` is one upstream request.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemon.etrade.emulator_clock import EmulatorClock
from emulator import Emulator
from tests.harness.daemons import RunningDaemon, daemon_settings, login, running_daemon
from tests.harness.support import requests_to
from tests.unit.daemon.fake_time import FakeTime

pytestmark = pytest.mark.anyio

#: E*TRADE's published market allowance, which the emulator enforces.
MARKET_LIMIT = 4.0
#: The most a daemon may send at once without breaking it: E*TRADE's whole second.
BURST = 4
#: Long enough for the first daemon's buckets to be full, as in a daemon that has been up a while.
UPTIME_SECONDS = 60.0


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def limited_emulator(fake_time: FakeTime) -> Iterator[Emulator]:
    with Emulator(
        seed=7, port=0, latency_ms=(0, 0), rate_limits={"market": MARKET_LIMIT}, monotonic=fake_time.monotonic
    ) as emu:
        yield emu


def settings_for(emulator: Emulator) -> Any:
    """One state directory for both daemons; no quote cache, market at the defaults' rate, burst 4."""
    return daemon_settings(
        emulator,
        market_requests_per_second=3.5,
        market_burst=float(BURST),
        quote_ttl_open=0.0,
        quote_ttl_closed=0.0,
    )


async def quote_burst(daemon: RunningDaemon, count: int) -> None:
    async with daemon.client() as client:
        await login(client)
        for _ in range(count):
            await client.get_quotes(["AAPL"])


async def test_a_restarted_daemon_does_not_resend_a_burst_into_its_predecessors_second(
    limited_emulator: Emulator, fake_time: FakeTime, short_dir: Path
) -> None:
    emulator = limited_emulator
    settings = settings_for(emulator)
    socket = short_dir / "run" / "broker.sock"
    clock = EmulatorClock(emulator.clock)

    async with running_daemon(emulator, socket, settings=settings, clock=clock, time_source=fake_time) as first:
        fake_time.now += UPTIME_SECONDS
        await quote_burst(first, BURST)
    # The first daemon sent its burst at one instant and used E*TRADE's whole second.
    assert requests_to(emulator, "quote") == BURST
    assert fake_time.sleeps == []
    assert emulator.stats()["rate_limited_total"] == 0

    # No time passes for E*TRADE between the two daemons.
    async with running_daemon(emulator, socket, settings=settings, clock=clock, time_source=fake_time) as second:
        await quote_burst(second, BURST)

    stats = emulator.stats()
    assert stats["rate_limited_total"] == 0, f"E*TRADE refused {stats['rate_limited_by_module']}"
    assert requests_to(emulator, "quote") == 2 * BURST
    # The second daemon paced its burst from an empty bucket: one slot (1/3.5 s) per request.
    assert fake_time.sleeps == [pytest.approx(1 / 3.5)] * BURST


async def test_the_first_daemon_and_one_whose_predecessor_stopped_long_ago_send_a_burst_at_once(
    limited_emulator: Emulator, fake_time: FakeTime, short_dir: Path
) -> None:
    """An empty start is paid only after a restart that may share E*TRADE's window with its predecessor."""
    import time

    from daemon.gateway.sender_mark import MARK_NAME, mark_stopped

    emulator = limited_emulator
    settings = settings_for(emulator)
    state_dir = settings.resolved_state_dir()
    socket = short_dir / "run" / "broker.sock"
    clock = EmulatorClock(emulator.clock)
    assert not (state_dir / MARK_NAME).exists()

    async with running_daemon(emulator, socket, settings=settings, clock=clock, time_source=fake_time) as first:
        await quote_burst(first, BURST)  # no daemon served from here before: it starts full
    assert fake_time.sleeps == []

    # The first stopped cleanly a minute ago, for E*TRADE and for the mark alike.
    fake_time.now += UPTIME_SECONDS
    mark_stopped(state_dir, time.time() - UPTIME_SECONDS)
    async with running_daemon(emulator, socket, settings=settings, clock=clock, time_source=fake_time) as second:
        await quote_burst(second, BURST)

    assert fake_time.sleeps == []
    stats = emulator.stats()
    assert stats["rate_limited_total"] == 0, f"E*TRADE refused {stats['rate_limited_by_module']}"
    assert requests_to(emulator, "quote") == 2 * BURST


async def test_a_daemon_that_did_not_stop_cleanly_leaves_its_successor_empty(
    limited_emulator: Emulator, fake_time: FakeTime, short_dir: Path
) -> None:
    """A crash or SIGKILL writes no stop: the mark still says "sending", whatever time has passed."""
    from daemon.gateway.sender_mark import mark_sending

    emulator = limited_emulator
    settings = settings_for(emulator)
    mark_sending(settings.resolved_state_dir())  # what a killed daemon leaves behind
    socket = short_dir / "run" / "broker.sock"
    async with running_daemon(
        emulator, socket, settings=settings, clock=EmulatorClock(emulator.clock), time_source=fake_time
    ) as daemon:
        await quote_burst(daemon, BURST)
    assert fake_time.sleeps == [pytest.approx(1 / 3.5)] * BURST
    assert emulator.stats()["rate_limited_total"] == 0
