"""The daemon's domain objects, wired from Settings. No gRPC here."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from broker_client.errors import BrokerError
from daemon.accounts.accounts import AccountsData
from daemon.accounts.alerts import AlertsData
from daemon.accounts.analytics import PortfolioAnalyst
from daemon.accounts.history import HistoryData
from daemon.accounts.watchlists import WatchlistBook
from daemon.clock import Clock, SystemClock
from daemon.etrade.emulator_clock import ClockWatch, EmulatorClock, RemoteEmulatorClock, describe_clock
from daemon.etrade.upstream import ConsumerCredentials, Endpoints, EtradeHttp, Upstream
from daemon.events import EventBus, EventKind
from daemon.gateway.deadline import REAL_TIME, TimeSource
from daemon.gateway.gateway import EtradeGateway
from daemon.gateway.ratelimit import ModuleRate, RateLimiter
from daemon.gateway.retry import RetryPolicy
from daemon.gateway.sender_mark import predecessor_is_quiet
from daemon.host import notify
from daemon.market.market import MarketData
from daemon.market.quote_cache import QuoteTtl
from daemon.notifications.hub import RECHECK_SECONDS, NotificationHub
from daemon.orders.pending import PendingOrder
from daemon.orders.service import OrderService
from daemon.orders.watcher import FillWatcher, WatchConfig, WatchPort
from daemon.scheduler import HOST_CLOCK_WATCH_INTERVAL, SessionJobs, new_scheduler, parse_reminder
from daemon.secret_store import SecretStore, open_secret_store
from daemon.session import LIVE_STATES, SessionManager, SessionState
from daemon.session.keeper import Notifier, SessionKeeper
from daemon.settings import Settings
from protos.broker.v1 import API_VERSION

if TYPE_CHECKING:
    from emulator import Emulator

log = logging.getLogger(__name__)


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
    orders: OrderService
    started_at: float
    keeper: SessionKeeper
    jobs: SessionJobs
    events: EventBus
    watchlists: WatchlistBook
    analyst: PortfolioAnalyst
    #: Transactions and alerts; its caches are forgotten together with the account caches.
    history: HistoryData
    alerts: AlertsData
    #: Polls E*TRADE's order lists while orders are working; started with the jobs.
    watcher: FillWatcher
    embedded_emulator: Emulator | None = field(default=None, repr=False)
    #: Phone, chat, email and webhook channels, fed by the event bus (None: built without it).
    notifications: NotificationHub | None = None
    # The API version this daemon announces (daemon/rpc/version_gate.py, GetStatus); tests vary it.
    api_version: str = API_VERSION

    @property
    def environment(self) -> str:
        return self.settings.environment

    def clock_description(self) -> str:
        return describe_clock(self.clock)

    def start_jobs(self) -> None:
        """Start the session's timers (renewal, midnight expiry, warning, reminder); inside the loop."""
        self.jobs.start()
        self.watcher.start()

    async def close(self) -> None:
        await self.watcher.close()
        await self.orders.close()  # first: in-flight orders record their outcome
        if self.notifications is not None:
            await self.notifications.close()
        self.events.close()
        self.jobs.shutdown()
        await self.market.cache.close()
        self.upstream.close()
        self.session.close()
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
    return None


def _consumer_default(settings: Settings) -> ConsumerCredentials | None:
    """The emulator's demo consumer, used when nothing else is configured (not an E*TRADE credential)."""
    if settings.environment == "emulator":
        from emulator import DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET

        return ConsumerCredentials(DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET)
    return None


async def _emulator_clock(settings: Settings, emulator: Emulator | None) -> Clock:
    """The emulator environment reasons on the emulator's clock (see daemon/etrade/emulator_clock.py)."""
    if emulator is not None:
        return EmulatorClock(emulator.clock)
    assert settings.emulator_url is not None
    remote = RemoteEmulatorClock(settings.emulator_url)
    await asyncio.to_thread(remote.refresh)
    return remote


def _no_desktop(title: str, body: str) -> bool:
    return False


async def build_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    store: SecretStore | None = None,
    notifier: Notifier | None = None,
    config_path: Path | None = None,
    time_source: TimeSource = REAL_TIME,
) -> BrokerApp:
    """Wire the domain objects for ``settings``. Tests may pass the clock (e.g. the emulator's), the
    secret store and a notifier; otherwise they come from the settings. Jobs start with ``start_jobs``.

    ``time_source`` is the monotonic time the rate limiter and the retry back-off wait on (tests
    share a fake one with the emulator's rate-limit windows).

    ``config_path`` is the config file whose ``[watchlists]`` table the daemon keeps; None keeps
    watchlists in memory only (tests that must not touch a real config file).
    """
    if settings.environment != "emulator" and isinstance(clock, EmulatorClock | RemoteEmulatorClock):
        raise ValueError(f"the emulator's clock must never drive the {settings.environment} environment")
    endpoints, emulator = _endpoints(settings)
    watch_interval = HOST_CLOCK_WATCH_INTERVAL
    if clock is None:
        if settings.environment == "emulator":
            clock = await _emulator_clock(settings, emulator)
            watch_interval = settings.emulator_clock_poll
        else:
            clock = SystemClock()
    # Before the domain objects, so that every one that reports changes (session, orders) can be given it.
    events = EventBus(clock, instance_id=secrets.token_hex(8))
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
        consumer_default=_consumer_default(settings),
        store_problem=problem,
        renew_after=settings.renew_after_minutes * 60,
    )
    await session.load()
    if notifier is None and settings.desktop_notifications:
        notifier = notify.notify
    reminder_at = parse_reminder(settings.login_reminder)
    keeper = SessionKeeper(
        session,
        clock,
        warning_minutes=settings.expiry_warning_minutes,
        reminder_at=reminder_at,
        notifier=notifier,
        events=events,
    )
    jobs = SessionJobs(
        new_scheduler(),
        keeper,
        session,
        clock,
        warning_minutes=settings.expiry_warning_minutes,
        reminder_at=reminder_at,
        watch=ClockWatch(clock),
        watch_interval=watch_interval,
    )

    def publish_session_state(old: SessionState, new: SessionState, reason: str) -> None:
        events.publish(EventKind.SESSION_STATE_CHANGED, new.value, previous=old.value, reason=reason)

    session.add_state_listener(publish_session_state)  # the proxy re-offers its tools on each change
    gateway = build_gateway(settings, session, upstream.http, time_source=time_source)
    market = MarketData(
        gateway,
        clock,
        ttl=QuoteTtl(market_open=settings.quote_ttl_open, market_closed=settings.quote_ttl_closed),
        override_symbol_count=settings.quote_override_symbol_count,
        gather_seconds=settings.quote_batch_window_ms / 1000.0,
        refresh_ahead=settings.quote_refresh_ahead,
    )
    accounts = AccountsData(
        gateway, market, clock, ttl=settings.account_cache_ttl, list_ttl=settings.account_list_cache_ttl
    )
    watchlists = WatchlistBook(config_path, events)
    watchlists.load()
    orders = OrderService(
        settings=settings,
        clock=clock,
        gateway=gateway,
        http=upstream.http,
        market=market,
        accounts=accounts,
        state_dir=settings.resolved_state_dir(),
        events=events,
        # Codes reach the desktop only when notifications are on (ETRADE_DESKTOP_NOTIFICATIONS too).
        notifier=notifier if notifier is not None else _no_desktop,
    )

    def waiting_order(pending_id: str) -> PendingOrder | None:
        # In-process only: this is how a code reaches trusted channels without entering the bus.
        try:
            return orders.pending.get(pending_id)
        except BrokerError:
            return None

    notifications = NotificationHub(
        settings.notification_channels,
        events=events,
        store=store,
        clock=clock,
        pending_lookup=waiting_order,
        pending_limit=settings.notify_pending_limit,
        pending_window=settings.notify_pending_window_seconds,
        # The emulator's clock moves when a test or the demo moves it: follow it as the scheduler does.
        recheck_seconds=settings.emulator_clock_poll if settings.environment == "emulator" else RECHECK_SECONDS,
    )
    await notifications.start()  # before the orders start: entries a previous run left in flight are told
    await orders.start()
    watcher = build_watcher(settings, session, accounts, orders, clock)
    history = HistoryData(gateway, accounts, clock)
    return BrokerApp(
        settings=settings,
        endpoints=endpoints,
        clock=clock,
        upstream=upstream,
        session=session,
        gateway=gateway,
        market=market,
        accounts=accounts,
        orders=orders,
        started_at=clock.now(),
        keeper=keeper,
        jobs=jobs,
        events=events,
        watchlists=watchlists,
        analyst=PortfolioAnalyst(accounts, clock, history),
        history=history,
        alerts=AlertsData(gateway, upstream.http),
        watcher=watcher,
        embedded_emulator=emulator,
        notifications=notifications,
    )


def build_gateway(
    settings: Settings, session: SessionManager, http: EtradeHttp, *, time_source: TimeSource = REAL_TIME
) -> EtradeGateway:
    """The rate limiter (per E*TRADE module, under the overall ceiling; it starts empty unless the
    previous daemon is proven quiet, see ``daemon/gateway/sender_mark.py``) and the retry policy."""
    limiter = RateLimiter(
        {
            "market": ModuleRate(settings.market_requests_per_second, settings.market_burst),
            "accounts": ModuleRate(settings.accounts_requests_per_second, settings.accounts_burst),
            "orders": ModuleRate(settings.orders_requests_per_second, settings.orders_burst),
        },
        requests_per_minute=settings.requests_per_minute,
        time_source=time_source,
    )
    if predecessor_is_quiet(settings.resolved_state_dir(), time.time(), limiter.refill_seconds):
        limiter.fill()
    return EtradeGateway(
        session,
        http,
        limiter,
        RetryPolicy(retries=settings.upstream_retries, base_delay=settings.retry_backoff),
        time_source=time_source,
    )


def build_watcher(
    settings: Settings,
    session: SessionManager,
    accounts: AccountsData,
    orders: OrderService,
    clock: Clock,
    *,
    time_source: TimeSource = REAL_TIME,
) -> FillWatcher:
    """The fill watcher over the daemon's own session, accounts and order desk (so through its limiter)."""

    async def account_keys() -> list[str]:
        return [a.account_id_key for a in await accounts.accounts() if a.is_open]

    watcher = FillWatcher(
        orders.tracker,
        WatchPort(
            session_usable=lambda: session.state in LIVE_STATES,
            account_keys=account_keys,
            list_orders=orders.watch_orders,
            get_order=orders.get_order,
        ),
        clock,
        WatchConfig(
            interval_seconds=settings.fill_watch_interval_seconds,
            idle_check_seconds=settings.fill_watch_idle_check_seconds,
            max_backoff_seconds=settings.fill_watch_max_backoff_seconds,
            lookback_days=settings.fill_watch_lookback_days,
        ),
        time_source=time_source,
    )

    def session_changed(old: SessionState, new: SessionState, reason: str) -> None:
        # A login (or a renewal after an expiry) may find orders that filled or were placed meanwhile.
        if new in LIVE_STATES and old not in LIVE_STATES:
            watcher.kick(everything=True)

    session.add_state_listener(session_changed)
    return watcher
