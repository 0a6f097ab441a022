"""The :class:`Emulator`: wires clock, market, book, OAuth, limits, faults and the HTTP server.

Use it in process (tests) or through ``python -m emulator`` (scripts, the demo)::

    with Emulator(seed=42, latency_ms=(0, 0), rate_limits=None) as emu:
        emu.base_url            # "http://127.0.0.1:PORT"
        emu.clock.set(...)      # move the emulator clock
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType

from emulator.accounts import AccountsApi
from emulator.admin import AdminApi
from emulator.alerts import AlertInbox, AlertsApi
from emulator.book import Book, seed_book
from emulator.clock import Clock
from emulator.faults import FaultRegistry
from emulator.holds import Hold, HoldRegistry
from emulator.limits import DEFAULT_RATE_LIMITS, Latency, RateLimiter
from emulator.market import Market
from emulator.oauth import OAuthService
from emulator.orders import OrderEngine
from emulator.orders_api import OrdersApi, synced
from emulator.quotes import MarketApi
from emulator.routing import Guard, Route, Router
from emulator.server import Dispatcher, EmulatorHTTPServer
from emulator.stats import Stats, StatsDocument
from emulator.transactions import Ledger, TransactionsApi

log = logging.getLogger(__name__)

#: The demo consumer key every emulator accepts unless told otherwise. Not an E*TRADE key.
DEFAULT_CONSUMER_KEY = "e7d1c0a9b2f34c5d8e6f7a8b9c0d1e2f"
#: Its secret.
DEFAULT_CONSUMER_SECRET = "3f9a1c7e5b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a"
#: Realistic per-response latency range, milliseconds.
DEFAULT_LATENCY_MS = (80, 150)
LOOPBACK = "127.0.0.1"
#: Methods the /oauth token endpoints answer.
TOKEN_METHODS = frozenset({"GET", "POST"})


class Emulator:
    """A local E*TRADE: OAuth 1.0a plus the v1 Accounts, Market and Orders APIs over real HTTP.

    Args:
        seed: makes the book and the quote random walk deterministic.
        port: TCP port on 127.0.0.1; 0 picks a free one.
        host: must be ``127.0.0.1`` (the emulator never listens beyond loopback).
        latency_ms: uniform per-response delay range for /oauth and /v1 (``(0, 0)`` for none).
        rate_limits: module -> requests per second per consumer key, or None for no limits.
        consumer_key, consumer_secret: the demo consumer.
        consumers: extra consumers, key -> secret.
        start: the emulator clock's initial instant (aware); default: now.
        frozen: start with the clock standing still.
        monotonic: the time source of the rate-limit windows (tests may pass a fake).
    """

    def __init__(
        self,
        seed: int = 0,
        port: int = 0,
        *,
        host: str = LOOPBACK,
        latency_ms: tuple[int, int] = DEFAULT_LATENCY_MS,
        rate_limits: Mapping[str, float] | None = DEFAULT_RATE_LIMITS,
        consumer_key: str = DEFAULT_CONSUMER_KEY,
        consumer_secret: str = DEFAULT_CONSUMER_SECRET,
        consumers: Mapping[str, str] | None = None,
        start: datetime | None = None,
        frozen: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if host != LOOPBACK:
            kind = "a loopback alias" if _is_loopback(host) else "a non-loopback address"
            raise ValueError(f"the emulator binds {LOOPBACK} only, not {host!r} ({kind})")
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0-65535, not {port}")
        self.seed = seed
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self._port = port
        self.clock = Clock(start, frozen=frozen)
        self.market = Market(seed)
        self.book: Book = seed_book(seed, self.market)
        self.faults = FaultRegistry()
        self.stats_counters = Stats()
        self.limiter = RateLimiter(rate_limits, monotonic)
        self.latency = Latency(latency_ms, seed)
        self.oauth = OAuthService(
            self.clock, {consumer_key: consumer_secret, **(consumers or {})}, skew_seconds=self.faults.skew_seconds
        )
        self.accounts_api = AccountsApi(self.book, self.market, self.clock)
        self.market_api = MarketApi(self.market, self.clock)
        self.orders = OrderEngine(self.book, self.market, self.clock, seed)
        self.orders_api = OrdersApi(self.orders, self.accounts_api.resolve)
        self.ledger = Ledger(self.book, self.market, self.clock, seed)
        self.transactions_api = TransactionsApi(self.ledger, self.accounts_api.resolve)
        self.alerts = AlertInbox(self.book, self.market, self.clock)
        self.alerts_api = AlertsApi(self.alerts)
        self.holds = HoldRegistry()
        self.router = Router(self._routes())
        self.admin = AdminApi(
            self.clock,
            self.book,
            self.oauth,
            self.faults,
            self.stats_counters,
            self.limiter,
            self.latency,
            self._base,
            self.market,
            orders=self.orders,
            holds=self.holds,
        )
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _routes(self) -> list[Route]:
        oauth = self.oauth
        token = Guard.OAUTH_ENDPOINT
        return [
            # E*TRADE documents GET; independent clients (requests-oauthlib, pyetrade) POST the
            # token requests and E*TRADE processes those too, so both are served.
            Route("request_token", "/oauth/request_token", oauth.handle_request_token, TOKEN_METHODS, guard=token),
            Route("access_token", "/oauth/access_token", oauth.handle_access_token, TOKEN_METHODS, guard=token),
            Route("renew_access_token", "/oauth/renew_access_token", oauth.handle_renew, TOKEN_METHODS, guard=token),
            Route("revoke_access_token", "/oauth/revoke_access_token", oauth.handle_revoke, TOKEN_METHODS, guard=token),
            Route("authorize", "/e/t/etws/authorize", oauth.handle_authorize, guard=Guard.NONE),
            # Fills happen on the emulator clock; balances and portfolios include them.
            *synced(self.orders, [*self.accounts_api.routes(), *self.transactions_api.routes()]),
            *synced(self.orders, self.alerts_api.routes()),
            *self.market_api.routes(),
            *self.orders_api.routes(),
        ]

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> Emulator:
        """Bind 127.0.0.1 and serve in a background thread; returns once accepting."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        dispatcher = Dispatcher(
            self.router,
            self.admin.handle,
            self.oauth,
            self.limiter,
            self.latency,
            self.faults,
            self.stats_counters,
            self._base,
            self.holds,
        )
        # Binding happens here, so the port is known (and accepting) when start() returns.
        self._server = EmulatorHTTPServer((LOOPBACK, self._port), dispatcher)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="etrade-emulator", daemon=True
        )
        self._thread.start()
        log.info("E*TRADE emulator serving at %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving and close every connection. Idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self.holds.release()  # parked responses must not keep their threads
        # shutdown() waits for the accept loop to notice; a throwaway connection wakes it at once
        # instead of after the loop's poll interval.
        stopper = threading.Thread(target=server.shutdown, name="etrade-emulator-stop")
        stopper.start()
        with contextlib.suppress(OSError):
            socket.create_connection((LOOPBACK, self.port), timeout=1).close()
        stopper.join()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- accessors ---------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound port (only while running)."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (only while running)."""
        return f"http://{LOOPBACK}:{self.port}"

    def _base(self) -> str:
        return self.base_url if self._server is not None else f"http://{LOOPBACK}:{self._port}"

    def pending_verifier(self, request_token: str) -> str | None:
        """The verifier the authorize page shows for a pending request token, else None."""
        return self.oauth.pending_verifier(request_token)

    def held(self) -> list[Hold]:
        """Responses parked by a ``hold`` fault right now."""
        return self.holds.held()

    def wait_for_hold(self, timeout: float = 30.0) -> list[Hold]:
        """Wait (bounded) until a ``hold`` fault parks a response; returns the held responses."""
        return self.holds.wait_for(timeout)

    def release_holds(self) -> int:
        """Let every parked response go out (``POST /_emulator/holds/release``)."""
        return self.holds.release()

    def stats(self) -> StatsDocument:
        """The same document as ``GET /_emulator/stats``."""
        return self.admin.stats_document()

    def reset_stats(self) -> None:
        """Zero the counters (``POST /_emulator/stats/reset``)."""
        self.stats_counters.reset()

    def configure(self, *, latency_ms: object = None, rate_limits: object = ...) -> None:
        """Change latency and/or rate limits at run time (``POST /_emulator/config``).

        ``latency_ms``: None leaves it; ``rate_limits``: leave out to keep, None to switch off.
        """
        if latency_ms is not None:
            self.latency.configure(latency_ms)
        if rate_limits is not ...:
            if rate_limits is not None and not isinstance(rate_limits, Mapping):
                raise ValueError("rate_limits must be a mapping or None")
            self.limiter.configure(rate_limits)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
