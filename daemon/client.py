"""The typed async client of etrade-daemon, shared by the MCP proxy and etradectl.

It maps every gRPC failure back to the :mod:`daemon.errors` exception the daemon raised (by the
code in trailing metadata), or, when the daemon cannot be reached at all, to
:class:`~daemon.errors.DaemonUnavailable` with what to run. Callers never see ``grpc`` types.

Import-light on purpose: grpc, the generated messages, ``daemon.errors`` and ``daemon.paths``
only — never rauth, APScheduler or keyring (a test checks).
"""

from __future__ import annotations

import errno
import os
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import grpc

from daemon import paths
from daemon.errors import BrokerError, DaemonUnavailable, ErrorCode, make_error, parse_code
from protos.broker.v1 import (
    accounts_pb2,
    accounts_pb2_grpc,
    analytics_pb2,
    analytics_pb2_grpc,
    events_pb2,
    events_pb2_grpc,
    market_pb2,
    market_pb2_grpc,
    session_pb2,
    session_pb2_grpc,
    watchlists_pb2,
    watchlists_pb2_grpc,
)

CODE_KEY = "x-etrade-error-code"
HINT_KEY = "x-etrade-error-hint-bin"
RETRY_AFTER_KEY = "x-etrade-retry-after"
CLIENT_KEY = "x-etrade-client"

DEFAULT_TIMEOUT = 30.0
# An analysis pages through the whole portfolio; give it longer than a single call.
ANALYSIS_TIMEOUT = 120.0

Resp = TypeVar("Resp")
Stub = TypeVar("Stub")


class BrokerClient:
    """One connection to the daemon. Use as ``async with BrokerClient(...) as broker:``.

    The channel opens lazily on the first call, so constructing a client is free.
    """

    def __init__(
        self,
        socket_path: str | os.PathLike[str] | None = None,
        *,
        client_name: str = "etrade-client",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.socket_path = paths.socket_path(socket_path)
        self.timeout = timeout
        self._metadata = ((CLIENT_KEY, client_name),)
        self._channel: grpc.aio.Channel | None = None
        self._session: session_pb2_grpc.SessionAsyncStub | None = None
        self._market: market_pb2_grpc.MarketAsyncStub | None = None
        self._accounts: accounts_pb2_grpc.AccountsAsyncStub | None = None
        self._stubs: dict[Callable[[Any], Any], Any] = {}

    async def __aenter__(self) -> BrokerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._channel is not None:
            channel, self._channel = self._channel, None
            self._stubs.clear()
            await channel.close()

    def _open(self) -> grpc.aio.Channel:
        if self._channel is None:
            # Fail fast when nothing listens; the caller's deadline bounds every call.
            self._channel = grpc.aio.insecure_channel(f"unix:{self.socket_path}", options=(("grpc.enable_retries", 0),))
            self._session = session_pb2_grpc.SessionStub(self._channel)
            self._market = market_pb2_grpc.MarketStub(self._channel)
            self._accounts = accounts_pb2_grpc.AccountsStub(self._channel)
        return self._channel

    @property
    def session_stub(self) -> session_pb2_grpc.SessionAsyncStub:
        self._open()
        assert self._session is not None
        return self._session

    @property
    def market_stub(self) -> market_pb2_grpc.MarketAsyncStub:
        self._open()
        assert self._market is not None
        return self._market

    @property
    def accounts_stub(self) -> accounts_pb2_grpc.AccountsAsyncStub:
        self._open()
        assert self._accounts is not None
        return self._accounts

    def _stub(self, factory: Callable[[grpc.aio.Channel], Stub]) -> Stub:
        """The stub of a service added after the first three, made once per channel."""
        channel = self._open()
        if factory not in self._stubs:
            self._stubs[factory] = factory(channel)
        stub: Stub = self._stubs[factory]
        return stub

    @property
    def watchlists_stub(self) -> watchlists_pb2_grpc.WatchlistsAsyncStub:
        return self._stub(watchlists_pb2_grpc.WatchlistsStub)

    @property
    def analytics_stub(self) -> analytics_pb2_grpc.AnalyticsAsyncStub:
        return self._stub(analytics_pb2_grpc.AnalyticsStub)

    @property
    def events_stub(self) -> events_pb2_grpc.EventsAsyncStub:
        return self._stub(events_pb2_grpc.EventsStub)

    async def stream(self, method: Callable[..., Any], request: Any, *, timeout: float | None) -> AsyncGenerator[Any]:
        """Iterate a server-streaming call (``timeout`` None: no deadline); raise BrokerError subclasses."""
        call = method(request, timeout=timeout, metadata=self._metadata)
        try:
            async for message in call:
                yield message
        except grpc.aio.AioRpcError as exc:
            raise self._translate(exc) from None
        finally:
            call.cancel()  # no-op once finished; stops the daemon's side when the caller stops early

    async def call(self, method: Callable[..., Awaitable[Resp]], request: Any, *, timeout: float | None = None) -> Resp:
        """Invoke a stub method with our deadline and metadata; raise BrokerError subclasses."""
        try:
            return await method(request, timeout=timeout or self.timeout, metadata=self._metadata)
        except grpc.aio.AioRpcError as exc:
            raise self._translate(exc) from None

    # --- session -------------------------------------------------------------------------

    async def get_status(self, *, timeout: float | None = None) -> session_pb2.GetStatusResponse:
        return await self.call(self.session_stub.GetStatus, session_pb2.GetStatusRequest(), timeout=timeout)

    async def begin_login(self) -> session_pb2.BeginLoginResponse:
        return await self.call(self.session_stub.BeginLogin, session_pb2.BeginLoginRequest())

    async def complete_login(self, verifier: str) -> session_pb2.CompleteLoginResponse:
        return await self.call(self.session_stub.CompleteLogin, session_pb2.CompleteLoginRequest(verifier=verifier))

    async def logout(self) -> session_pb2.LogoutResponse:
        return await self.call(self.session_stub.Logout, session_pb2.LogoutRequest())

    # --- market --------------------------------------------------------------------------

    async def get_quotes(
        self, symbols: Sequence[str], *, detail: market_pb2.QuoteDetail.ValueType = market_pb2.QUOTE_DETAIL_ALL
    ) -> market_pb2.GetQuotesResponse:
        request = market_pb2.GetQuotesRequest(symbols=list(symbols), detail=detail)
        return await self.call(self.market_stub.GetQuotes, request)

    async def lookup_product(self, search: str) -> market_pb2.LookupProductResponse:
        return await self.call(self.market_stub.LookupProduct, market_pb2.LookupProductRequest(search=search))

    # --- accounts ------------------------------------------------------------------------

    async def list_accounts(self, *, include_closed: bool = False) -> accounts_pb2.ListAccountsResponse:
        request = accounts_pb2.ListAccountsRequest(include_closed=include_closed)
        return await self.call(self.accounts_stub.ListAccounts, request)

    async def get_balance(self, account_id_key: str) -> accounts_pb2.GetBalanceResponse:
        request = accounts_pb2.GetBalanceRequest(account_id_key=account_id_key)
        return await self.call(self.accounts_stub.GetBalance, request)

    async def get_portfolio(self, account_id_key: str) -> accounts_pb2.GetPortfolioResponse:
        request = accounts_pb2.GetPortfolioRequest(account_id_key=account_id_key)
        return await self.call(self.accounts_stub.GetPortfolio, request)

    async def get_position(self, account_id_key: str, symbol: str) -> accounts_pb2.GetPositionResponse:
        request = accounts_pb2.GetPositionRequest(account_id_key=account_id_key, symbol=symbol)
        return await self.call(self.accounts_stub.GetPosition, request)

    # --- watchlists ----------------------------------------------------------------------

    async def list_watchlists(self) -> watchlists_pb2.ListWatchlistsResponse:
        return await self.call(self.watchlists_stub.ListWatchlists, watchlists_pb2.ListWatchlistsRequest())

    async def get_watchlist(self, name: str) -> watchlists_pb2.GetWatchlistResponse:
        return await self.call(self.watchlists_stub.GetWatchlist, watchlists_pb2.GetWatchlistRequest(name=name))

    async def add_to_watchlist(self, name: str, symbols: Sequence[str]) -> watchlists_pb2.WatchlistChangeResponse:
        request = watchlists_pb2.AddToWatchlistRequest(name=name, symbols=list(symbols))
        return await self.call(self.watchlists_stub.AddToWatchlist, request)

    async def remove_from_watchlist(
        self, name: str, symbols: Sequence[str] = ()
    ) -> watchlists_pb2.WatchlistChangeResponse:
        request = watchlists_pb2.RemoveFromWatchlistRequest(name=name, symbols=list(symbols))
        return await self.call(self.watchlists_stub.RemoveFromWatchlist, request)

    # --- analytics -----------------------------------------------------------------------

    def analyze_portfolio(
        self, account_id_key: str, *, timeout: float = ANALYSIS_TIMEOUT
    ) -> AsyncGenerator[analytics_pb2.AnalyzePortfolioUpdate]:
        """Progress updates, then one update carrying the analysis."""
        request = analytics_pb2.AnalyzePortfolioRequest(account_id_key=account_id_key)
        return self.stream(self.analytics_stub.AnalyzePortfolio, request, timeout=timeout)

    # --- events --------------------------------------------------------------------------

    def subscribe_events(
        self, kinds: Sequence[events_pb2.EventKind.ValueType] = ()
    ) -> AsyncGenerator[events_pb2.Event]:
        """The daemon's events (STREAM_STARTED first) until the daemon stops or the caller stops iterating."""
        request = events_pb2.SubscribeRequest(kinds=list(kinds))
        return self.stream(self.events_stub.Subscribe, request, timeout=None)

    # --- errors --------------------------------------------------------------------------

    def _translate(self, exc: grpc.aio.AioRpcError) -> BrokerError:
        trailing = dict(exc.trailing_metadata() or ())
        code = trailing.get(CODE_KEY)
        if isinstance(code, str):
            hint_raw = trailing.get(HINT_KEY)
            hint = hint_raw.decode("utf-8", "replace") if isinstance(hint_raw, bytes) else None
            retry_raw = trailing.get(RETRY_AFTER_KEY)
            retry_after = float(retry_raw) if isinstance(retry_raw, str) else None
            return make_error(parse_code(code), exc.details() or code, hint=hint, retry_after=retry_after)
        status = exc.code()
        if status == grpc.StatusCode.UNAVAILABLE:
            return self.unreachable()
        if status == grpc.StatusCode.DEADLINE_EXCEEDED:
            return DaemonUnavailable(
                ErrorCode.DAEMON_TIMEOUT, f"the broker daemon did not answer within {self.timeout:g} s"
            )
        if status == grpc.StatusCode.UNIMPLEMENTED:
            return make_error(
                ErrorCode.API_VERSION_MISMATCH,
                "the broker daemon does not offer this call (it is older than this client)",
            )
        return make_error(ErrorCode.INTERNAL, f"the broker daemon failed: {status.name}")

    def unreachable(self) -> DaemonUnavailable:
        """Explain why the socket cannot be used: missing, not ours, or nobody listening."""
        path = self.socket_path
        hint = ErrorCode.DAEMON_UNAVAILABLE.hint
        if path != paths.default_socket_path():
            hint += f" (with --socket {path} or {paths.SOCKET_ENV}={path})"
        try:
            os.stat(path)
        except PermissionError:
            return DaemonUnavailable(
                ErrorCode.DAEMON_PERMISSION_DENIED, f"permission denied on the broker daemon's socket {path}"
            )
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return DaemonUnavailable(
                    ErrorCode.DAEMON_UNAVAILABLE, f"the broker daemon is not running (no socket at {path})", hint=hint
                )
            raise
        if not os.access(path, os.R_OK | os.W_OK):
            return DaemonUnavailable(
                ErrorCode.DAEMON_PERMISSION_DENIED, f"permission denied on the broker daemon's socket {path}"
            )
        return DaemonUnavailable(
            ErrorCode.DAEMON_UNAVAILABLE,
            f"the broker daemon is not answering on {path} (it stopped, or the socket is stale)",
            hint=hint,
        )
