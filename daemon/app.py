"""The daemon's domain objects, wired from Settings. No gRPC here."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from daemon.accounts import AccountsData
from daemon.clock import Clock, SystemClock
from daemon.errors import BrokerError
from daemon.gateway import EtradeGateway
from daemon.market import MarketData
from daemon.quote_cache import QuoteTtl
from daemon.ratelimit import ModuleRate, RateLimiter
from daemon.retry import RetryPolicy
from daemon.secret_store import SecretStore, open_secret_store
from daemon.session import SessionManager
from daemon.settings import Settings
from daemon.upstream import ConsumerCredentials, Endpoints, EtradeHttp, Upstream

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
    #: Every E*TRADE REST request: rate limited per module; reads retried, ``once()`` never.
    gateway: EtradeGateway
    market: MarketData
    accounts: AccountsData
    started_at: float
    embedded_emulator: Emulator | None = field(default=None, repr=False)

    @property
    def environment(self) -> str:
        return self.settings.environment

    async def close(self) -> None:
        await self.market.cache.close()
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


async def build_app(settings: Settings, *, clock: Clock | None = None, store: SecretStore | None = None) -> BrokerApp:
    """Wire the domain objects for ``settings``; ``store`` overrides the configured secret store (tests)."""
    clock = clock or SystemClock()
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
    gateway = build_gateway(settings, session, upstream.http)
    market = MarketData(
        gateway,
        clock,
        ttl=QuoteTtl(market_open=settings.quote_ttl_open, market_closed=settings.quote_ttl_closed),
        override_symbol_count=settings.quote_override_symbol_count,
        gather_seconds=settings.quote_batch_window_ms / 1000.0,
        refresh_ahead=settings.quote_refresh_ahead,
    )
    return BrokerApp(
        settings=settings,
        endpoints=endpoints,
        clock=clock,
        upstream=upstream,
        session=session,
        gateway=gateway,
        market=market,
        accounts=AccountsData(
            gateway, market, clock, ttl=settings.account_cache_ttl, list_ttl=settings.account_list_cache_ttl
        ),
        started_at=clock.now(),
        embedded_emulator=emulator,
    )


def build_gateway(settings: Settings, session: SessionManager, http: EtradeHttp) -> EtradeGateway:
    """The rate limiter (per E*TRADE module, under the overall ceiling) and the retry policy."""
    limiter = RateLimiter(
        {
            "market": ModuleRate(settings.market_requests_per_second, settings.market_burst),
            "accounts": ModuleRate(settings.accounts_requests_per_second, settings.accounts_burst),
            "orders": ModuleRate(settings.orders_requests_per_second, settings.orders_burst),
        },
        requests_per_minute=settings.requests_per_minute,
    )
    return EtradeGateway(
        session, http, limiter, RetryPolicy(retries=settings.upstream_retries, base_delay=settings.retry_backoff)
    )
