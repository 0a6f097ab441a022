"""Helpers for order tests: an emulator frozen in a regular session, a trading daemon whose clock is
the emulator's, and a few calls every order test makes."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from broker_client.client import BrokerClient
from daemon.app import BrokerApp
from daemon.etrade.emulator_clock import EmulatorClock
from emulator import Emulator
from protos.broker.v1 import orders_pb2
from tests.harness.daemons import RunningDaemon, daemon_settings, login, running_daemon

#: Tuesday 2026-03-10 11:00 EDT: the regular session, so fills and messages do not depend on today.
T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)

_sockets = itertools.count(1)


def session_emulator(**overrides: Any) -> Emulator:
    """An emulator frozen at T0 with no latency or limits."""
    options: dict[str, Any] = {
        "seed": 7,
        "port": 0,
        "latency_ms": (0, 0),
        "rate_limits": None,
        "start": T0,
        "frozen": True,
    }
    options.update(overrides)
    return Emulator(**options)


@dataclass
class Trader:
    """A trading daemon and two logged-in clients: the model's (etrade-mcp) and the operator's (etradectl)."""

    daemon: RunningDaemon
    model: BrokerClient
    operator: BrokerClient

    @property
    def app(self) -> BrokerApp:
        return self.daemon.app

    @property
    def emulator(self) -> Emulator:
        return self.daemon.emulator

    def account_key(self, mode: str = "MARGIN") -> str:
        return next(a.account_id_key for a in self.emulator.book.accounts() if a.account_mode == mode and a.is_open)

    def orders_at_emulator(self) -> list[Any]:
        self.emulator.orders.sync()
        return self.emulator.orders.orders()

    async def code_of(self, pending_id: str) -> str:
        """What the human reads in `etradectl orders pending`."""
        listing = await self.operator.list_pending()
        return next(p.confirmation_code for p in listing.pending if p.pending.pending_id == pending_id)


@asynccontextmanager
async def trading_daemon(
    emulator: Emulator, directory: Path, *, read_only: bool = False, **overrides: Any
) -> AsyncIterator[Trader]:
    """A daemon on a fresh socket under ``directory``, trading unless told otherwise, logged in."""
    overrides.setdefault("notify_codes", False)  # no desktop pop-ups from test runs
    # The emulator here has no rate limits; the daemon's own (E*TRADE's 2/s for orders) would only
    # make these tests wait. The limiter has tests of its own.
    for module in ("market", "accounts", "orders"):
        overrides.setdefault(f"{module}_requests_per_second", 100.0)
        overrides.setdefault(f"{module}_burst", 100.0)
    settings = daemon_settings(emulator, read_only=read_only, **overrides)
    socket = directory / f"r{next(_sockets)}" / "broker.sock"
    # The daemon reasons on the emulator's clock: moving one moves both (expiry, daily limits).
    async with running_daemon(emulator, socket, settings=settings, clock=EmulatorClock(emulator.clock)) as daemon:
        model = BrokerClient(socket, client_name="etrade-mcp/test")
        operator = BrokerClient(socket, client_name="etradectl/test")
        try:
            await login(operator)
            yield Trader(daemon, model, operator)
        finally:
            await model.close()
            await operator.close()


def spec(account_id_key: str, symbol: str = "KO", quantity: int = 2, **fields: Any) -> orders_pb2.OrderSpec:
    """A market buy unless told otherwise."""
    values: dict[str, Any] = {"action": "BUY", "price_type": "MARKET"}
    values.update(fields)
    return orders_pb2.OrderSpec(account_id_key=account_id_key, symbol=symbol, quantity=quantity, **values)


def last_price(emulator: Emulator, symbol: str) -> float:
    return emulator.market.observe(symbol, emulator.clock.now()).last
