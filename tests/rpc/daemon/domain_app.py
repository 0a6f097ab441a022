"""A logged-in daemon app (no gRPC) whose clock is the emulator's, for cache and limiter tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from daemon.app import BrokerApp, build_app
from daemon.gateway.deadline import REAL_TIME, TimeSource
from daemon.secret_store import MemorySecretStore
from emulator import Emulator
from tests.harness.daemons import daemon_settings
from tests.harness.support import read_verifier

#: Tuesday 2026-03-10 11:00 EDT: the regular session is open.
IN_SESSION = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
#: Saturday 2026-03-14 12:00 EDT: the market is closed.
MARKET_CLOSED = datetime(2026, 3, 14, 16, 0, tzinfo=UTC)

#: Limits high enough that tests never wait for the daemon's limiter unless they mean to.
NO_LIMITS: dict[str, Any] = {
    "market_requests_per_second": 10_000.0,
    "accounts_requests_per_second": 10_000.0,
    "orders_requests_per_second": 10_000.0,
    "market_burst": 10_000.0,
    "accounts_burst": 10_000.0,
    "orders_burst": 10_000.0,
    "requests_per_minute": 6_000_000,
    "retry_backoff": 0.001,
    "quote_batch_window_ms": 0.0,
}


class EmulatorClock:
    """The daemon's clock reading the emulator's (movable, freezable) clock."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator

    def now(self) -> float:
        return self._emulator.clock.now().timestamp()


@asynccontextmanager
async def logged_in_app(
    emulator: Emulator, *, at: datetime = IN_SESSION, time_source: TimeSource = REAL_TIME, **overrides: Any
) -> AsyncIterator[BrokerApp]:
    """The daemon's domain objects on ``emulator`` (frozen at ``at``), logged in for real;
    ``time_source``: what its rate limiter waits on (a new limiter starts empty)."""
    emulator.clock.set(at)
    emulator.clock.freeze()
    values = {**NO_LIMITS, **overrides}
    app = await build_app(
        daemon_settings(emulator, **values),
        clock=EmulatorClock(emulator),
        store=MemorySecretStore(),
        time_source=time_source,
    )
    try:
        url, _ = await app.session.begin_login()
        await app.session.complete_login(read_verifier(url))
        yield app
    finally:
        await app.close()
