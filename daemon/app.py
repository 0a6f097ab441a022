"""The daemon's domain objects, wired from Settings. No gRPC here."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from daemon.accounts import AccountsData
from daemon.analytics import PortfolioAnalyst
from daemon.clock import Clock, SystemClock
from daemon.errors import BrokerError
from daemon.events import EventBus
from daemon.market import MarketData
from daemon.secret_store import SecretStore, open_secret_store
from daemon.session import SessionManager
from daemon.settings import Settings
from daemon.upstream import ConsumerCredentials, Endpoints, EtradeHttp, Upstream
from daemon.watchlists import WatchlistBook

if TYPE_CHECKING:
    from emulator import Emulator

log = logging.getLogger(__name__)

VERSION = "0.1.0"


@dataclass
class BrokerApp:
    """Everything the servicers call into."""

    settings: Settings
    endpoints: Endpoints
    clock: Clock
    upstream: Upstream
    session: SessionManager
    market: MarketData
    accounts: AccountsData
    started_at: float
    events: EventBus
    watchlists: WatchlistBook
    analyst: PortfolioAnalyst
    embedded_emulator: Emulator | None = field(default=None, repr=False)

    @property
    def environment(self) -> str:
        return self.settings.environment

    async def close(self) -> None:
        self.events.close()
        self.upstream.close()
        if self.embedded_emulator is not None:
            self.embedded_emulator.stop()


def _endpoints(settings: Settings) -> tuple[Endpoints, Emulator | None]:
    if settings.environment == "production":
        return Endpoints.production(), None
    if settings.environment == "sandbox":
        return Endpoints.sandbox(), None
    if settings.emulator_url:
        return Endpoints.emulator(settings.emulator_url), None
    from emulator import Emulator  # only the emulator environment pays for it

    emulator = Emulator(seed=42, port=0, rate_limits=None)
    emulator.start()
    log.info("emulator: embedded E*TRADE emulator listening on %s", emulator.base_url)
    return Endpoints.emulator(emulator.base_url), emulator


def _consumer_override(settings: Settings) -> ConsumerCredentials | None:
    if settings.consumer_key and settings.consumer_secret:
        return ConsumerCredentials(settings.consumer_key, settings.consumer_secret)
    if settings.environment == "emulator":
        from emulator import DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET

        return ConsumerCredentials(DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET)
    return None


async def build_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    store: SecretStore | None = None,
    config_path: Path | None = None,
) -> BrokerApp:
    """Wire the domain objects for ``settings``; ``store`` overrides the configured secret store (tests).

    ``config_path`` is the config file whose ``[watchlists]`` table the daemon keeps; None keeps
    watchlists in memory only (tests that must not touch a real config file).
    """
    clock = clock or SystemClock()
    # First, so that every domain object that reports changes (session, orders) can be given it.
    events = EventBus(clock, instance_id=secrets.token_hex(8))
    endpoints, emulator = _endpoints(settings)
    upstream = Upstream(EtradeHttp(endpoints, timeout=settings.upstream_timeout))
    problem: str | None = None
    if store is None:
        try:
            store = open_secret_store(settings.secret_store, settings.environment, settings.resolved_state_dir())
        except BrokerError as exc:
            problem = exc.message
            log.warning("secrets: %s; %s", exc.message, exc.hint)
    session = SessionManager(
        upstream=upstream,
        store=store,
        clock=clock,
        consumer_override=_consumer_override(settings),
        store_problem=problem,
    )
    await session.load()
    market = MarketData(session, clock)
    accounts = AccountsData(session, market, clock)
    watchlists = WatchlistBook(config_path, events)
    watchlists.load()
    return BrokerApp(
        settings=settings,
        endpoints=endpoints,
        clock=clock,
        upstream=upstream,
        session=session,
        market=market,
        accounts=accounts,
        started_at=clock.now(),
        events=events,
        watchlists=watchlists,
        analyst=PortfolioAnalyst(accounts, clock),
        embedded_emulator=emulator,
    )
