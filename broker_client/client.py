"""The typed async client of etrade-daemon, shared by the MCP proxy and etradectl.

It maps every gRPC failure back to the :mod:`broker_client.errors` exception the daemon raised (by the
code in trailing metadata), or, when the daemon cannot be reached at all, to
:class:`~broker_client.errors.DaemonUnavailable` with what to run. Callers never see ``grpc`` types.

It also runs the client half of the API version handshake (:mod:`broker_client.api_version`): every
request declares this client's API version, and the daemon's version, read from the first answer,
is compared once: a MINOR difference is reported through ``on_version_warning`` (default: a log
warning), a MAJOR difference raises :class:`~broker_client.errors.VersionMismatch` on that and every
later call. Nothing is checked at construction or import: the first call is the first contact.

Import-light on purpose: grpc, the generated messages and the rest of ``broker_client`` only — never
rauth, APScheduler or keyring (a test and ``lint-imports`` check).
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import socket
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any, TypeVar

import grpc

from broker_client import api_version, paths
from broker_client.error_wire import error_from_metadata
from broker_client.errors import (
    BrokerError,
    DaemonUnavailable,
    ErrorCode,
    UpstreamError,
    VersionMismatch,
    make_error,
)
from broker_client.metadata_keys import API_VERSION_KEY, AUTH_KEY, CLIENT_KEY, CODE_KEY, KNOWN_API_VERSION_KEY
from protos.broker.v1 import (
    API_VERSION,
    accounts_pb2,
    accounts_pb2_grpc,
    alerts_pb2,
    alerts_pb2_grpc,
    analytics_pb2,
    analytics_pb2_grpc,
    events_pb2,
    events_pb2_grpc,
    history_pb2,
    history_pb2_grpc,
    market_pb2,
    market_pb2_grpc,
    notifications_pb2,
    notifications_pb2_grpc,
    operator_pb2,
    operator_pb2_grpc,
    options_pb2,
    options_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    session_pb2,
    session_pb2_grpc,
    watchlists_pb2,
    watchlists_pb2_grpc,
)

DEFAULT_TIMEOUT = 30.0
# An analysis pages through the whole portfolio; give it longer than a single call.
ANALYSIS_TIMEOUT = 120.0
# Sending an order may wait for a rate-limit slot, a token renewal and E*TRADE's answer, each with
# its own bound; the caller must not give up before the daemon does.
SEND_TIMEOUT = 120.0
# The identity handshake is one local round trip; a daemon that does not answer it quickly is stuck.
IDENTIFY_TIMEOUT = 5.0
# Without a token (no identity socket), look again after this long: the daemon may have restarted.
IDENTIFY_RETRY = 60.0

# Fail fast when nothing listens (no retries: the caller's deadline bounds every call). gRPC's
# default reconnect backoff grows to 120 s, so a daemon that came back after a long outage would
# stay unreachable for a minute; on a local socket a reconnection attempt costs nothing.
CHANNEL_OPTIONS = (
    ("grpc.enable_retries", 0),
    # A channel's own subchannel: with gRPC's global pool a fresh channel would inherit the failed
    # connection of the channel it replaces, backoff included.
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
)

log = logging.getLogger(__name__)

Resp = TypeVar("Resp")
Stub = TypeVar("Stub")


def _served_together(socket_path: str, auth_path: str) -> bool:
    """Whether the identity socket is the gRPC socket's sibling: one directory, one owner.

    Otherwise the token the identity socket issues (say, to root) would be sent to whoever serves
    ``socket_path`` — a link to another daemon's identity socket beside a fake gRPC socket.
    """
    try:
        ours, auth = os.stat(socket_path), os.stat(auth_path)
    except OSError:
        return False
    same_dir = os.path.dirname(os.path.realpath(socket_path)) == os.path.dirname(os.path.realpath(auth_path))
    return same_dir and ours.st_uid == auth.st_uid


def _listener_behind(path: os.PathLike[str]) -> bool | None:
    """What a plain connect to ``path`` finds: None, nobody listens (refused); False, a listener
    whose queue is full (it is not accepting: out of descriptors, say); True, a connection."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.setblocking(False)
        result = probe.connect_ex(os.fspath(path))
    except OSError:
        return None
    finally:
        probe.close()
    if result == 0:
        return True
    if result in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINPROGRESS):
        return False
    return None


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
        on_version_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.socket_path = paths.client_socket_path(socket_path)
        self.timeout = timeout
        self._base_metadata: tuple[tuple[str, str], ...] = (
            (CLIENT_KEY, client_name),
            (API_VERSION_KEY, API_VERSION),
        )
        self._declared = self._base_metadata
        self._metadata: tuple[tuple[str, str], ...] = self._base_metadata
        # When the identity token (see daemon/authority.py) was obtained; None: not yet.
        self._identified_at: float | None = None
        self._token_refresh = IDENTIFY_RETRY
        self._on_version_warning = on_version_warning or log.warning
        # The daemon's API version once an answer has carried it; None before the first contact.
        self.daemon_api_version: str | None = None
        self._incompatible: VersionMismatch | None = None
        self._channel: grpc.aio.Channel | None = None
        self._session: session_pb2_grpc.SessionAsyncStub | None = None
        self._market: market_pb2_grpc.MarketAsyncStub | None = None
        self._accounts: accounts_pb2_grpc.AccountsAsyncStub | None = None
        self._stubs: dict[Callable[[Any], Any], Any] = {}
        self._closing: set[asyncio.Future[None]] = set()  # dropped channels still closing

    async def __aenter__(self) -> BrokerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
            self._closing.clear()
        if self._channel is not None:
            channel, self._channel = self._channel, None
            self._stubs.clear()
            await channel.close()

    async def _identify(self) -> None:
        """Obtain (or refresh) this process's identity token from the daemon's identity socket.

        A daemon without one (older, or not running yet) is simply called without a token; the
        daemon decides whether that is enough. The token goes in metadata only, never in a log.
        """
        now = time.monotonic()
        if self._identified_at is not None and now - self._identified_at < self._token_refresh:
            return
        auth_path = str(paths.auth_socket_path(self.socket_path))
        if not _served_together(str(self.socket_path), auth_path):
            self._identified_at = now  # a token must never travel to a socket another daemon serves
            self._token_refresh = IDENTIFY_RETRY
            self._metadata = self._base_metadata
            return
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(auth_path), IDENTIFY_TIMEOUT)
        except (OSError, TimeoutError):
            self._identified_at = now  # not offered: don't knock again on every call
            self._token_refresh = IDENTIFY_RETRY
            return
        try:
            line = await asyncio.wait_for(reader.readline(), IDENTIFY_TIMEOUT)
            answer = json.loads(line) if line else {}
        except (OSError, TimeoutError, ValueError):
            answer = {}
        finally:
            writer.close()
        token = answer.get("token") if isinstance(answer, dict) else None
        self._identified_at = now
        if isinstance(token, str) and token:
            ttl = answer.get("ttl_seconds")
            self._token_refresh = float(ttl) / 2 if isinstance(ttl, int | float) and ttl > 0 else IDENTIFY_RETRY
            self._metadata = (*self._base_metadata, (AUTH_KEY, token))
        else:
            self._token_refresh = IDENTIFY_RETRY
            self._metadata = self._base_metadata

    def _forget_identity(self, exc: grpc.aio.AioRpcError) -> bool:
        """True (and the token dropped) when the daemon did not recognise the token we sent."""
        code = dict(exc.trailing_metadata() or ()).get(CODE_KEY)
        if code != ErrorCode.CALLER_UNIDENTIFIED.value or self._metadata is self._base_metadata:
            return False
        self._identified_at = None
        self._metadata = self._base_metadata
        return True

    def _drop_failed_channel(self) -> None:
        """Forget a channel that failed to connect, so the next call connects at once.

        A failed channel waits out its reconnect backoff before trying again, and meanwhile fails
        every call; a fresh channel tries on its first call. Only a channel in TRANSIENT_FAILURE
        is dropped: no call can be in flight on it, so closing it cancels nothing.
        """
        channel = self._channel
        if channel is None or channel.get_state() is not grpc.ChannelConnectivity.TRANSIENT_FAILURE:
            return
        self._channel = None
        self._stubs.clear()
        self._closing.add(asyncio.ensure_future(channel.close()))

    def _open(self) -> grpc.aio.Channel:
        if self._channel is None:
            self._refuse_unsafe_socket()
            self._channel = grpc.aio.insecure_channel(f"unix:{self.socket_path}", options=CHANNEL_OPTIONS)
            self._session = session_pb2_grpc.SessionStub(self._channel)
            self._market = market_pb2_grpc.MarketStub(self._channel)
            self._accounts = accounts_pb2_grpc.AccountsStub(self._channel)
        return self._channel

    def _refuse_unsafe_socket(self) -> None:
        """As root, never talk to a socket that someone other than root or its owner could replace."""
        if os.geteuid() != 0:
            return
        reason = paths.root_socket_refusal(self.socket_path)
        if reason is not None:
            raise DaemonUnavailable(
                ErrorCode.DAEMON_PERMISSION_DENIED,
                f"refusing the socket {self.socket_path} as root: {reason}",
                hint="as root, use the protected daemon's socket (leave out --socket), or a socket in a directory "
                "that only root or the daemon's user can write",
            )

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

    @property
    def options_stub(self) -> options_pb2_grpc.OptionsAsyncStub:
        return self._stub(options_pb2_grpc.OptionsStub)

    async def stream(self, method: Callable[..., Any], request: Any, *, timeout: float | None) -> AsyncGenerator[Any]:
        """Iterate a server-streaming call (``timeout`` None: no deadline); raise BrokerError subclasses."""
        if self._incompatible is not None:
            raise self._incompatible
        await self._identify()
        call = method(request, timeout=timeout, metadata=self._metadata)
        try:
            self.check_version(await call.initial_metadata())
            async for message in call:
                yield message
        except grpc.aio.AioRpcError as exc:
            self._forget_identity(exc)  # a daemon that forgot our token: the next call identifies again
            error = self._translate(exc, timeout)
            if error.code is not ErrorCode.API_VERSION_MISMATCH:
                self.check_version(exc.initial_metadata())
            raise error from None
        finally:
            call.cancel()  # no-op once finished; stops the daemon's side when the caller stops early

    @property
    def history_stub(self) -> history_pb2_grpc.HistoryAsyncStub:
        return self._stub(history_pb2_grpc.HistoryStub)

    @property
    def alerts_stub(self) -> alerts_pb2_grpc.AlertsAsyncStub:
        return self._stub(alerts_pb2_grpc.AlertsStub)

    @property
    def orders_stub(self) -> orders_pb2_grpc.OrdersAsyncStub:
        return self._stub(orders_pb2_grpc.OrdersStub)

    @property
    def operator_stub(self) -> operator_pb2_grpc.OperatorAsyncStub:
        return self._stub(operator_pb2_grpc.OperatorStub)

    async def call(
        self,
        method: Callable[..., grpc.aio.UnaryUnaryCall[Any, Resp]],
        request: Any,
        *,
        timeout: float | None = None,
        sends_order: bool = False,
    ) -> Resp:
        """Invoke a stub method with our deadline and metadata; raise BrokerError subclasses.

        ``sends_order``: the call may send an order or cancel to E*TRADE. It gets at least
        :data:`SEND_TIMEOUT`, and running out of time means its outcome is unknown (never "try again").
        """
        if self._incompatible is not None:
            raise self._incompatible
        deadline = timeout or (max(self.timeout, SEND_TIMEOUT) if sends_order else self.timeout)
        await self._identify()
        try:
            try:
                call = method(request, timeout=deadline, metadata=self._metadata)
                response = await call
            except grpc.aio.AioRpcError as exc:
                if not self._forget_identity(exc):
                    raise
                # Refused before any servicer ran (the daemon restarted and forgot our token):
                # identify again and ask once more; safe even for a call that sends an order.
                await self._identify()
                call = method(request, timeout=deadline, metadata=self._metadata)
                response = await call
        except grpc.aio.AioRpcError as exc:
            if sends_order and exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise UpstreamError(
                    ErrorCode.ORDER_OUTCOME_UNKNOWN,
                    f"the broker daemon did not answer within {deadline:g} s, so the request may or may not "
                    "have been sent to E*TRADE",
                ) from None
            error = self._translate(exc, deadline)
            if error.code is not ErrorCode.API_VERSION_MISMATCH:
                self.check_version(exc.initial_metadata())
            raise error from None
        self.check_version(await call.initial_metadata())
        return response

    def check_version(self, metadata: grpc.aio.Metadata | None) -> None:
        """Compare the daemon's API version (from an answer's metadata) with ours, once per version.

        A daemon announces its version until our requests name it (``KNOWN_API_VERSION_KEY``), and
        again if another daemon with another version answers later.
        """
        raw = metadata.get(API_VERSION_KEY) if metadata is not None else None
        if raw is None:  # the daemon knows we know, no answer yet, or a daemon older than the handshake
            return
        version = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        if version == self.daemon_api_version:
            return
        self.daemon_api_version = version
        self._name_known_version(None)
        compatibility = api_version.compare(API_VERSION, version)
        if compatibility in (api_version.Compatibility.MAJOR_DIFFERS, api_version.Compatibility.UNREADABLE):
            self._incompatible = api_version.mismatch_error(API_VERSION, version)
            raise self._incompatible
        if compatibility is api_version.Compatibility.MINOR_DIFFERS:
            self._on_version_warning(api_version.minor_warning(API_VERSION, version))
        self._name_known_version(version)

    def _name_known_version(self, version: str | None) -> None:
        """From now on every request names ``version`` as the daemon's (None: names none), so the
        daemon need not repeat it; the identity token, if any, stays."""
        token = tuple(item for item in self._metadata if item[0] == AUTH_KEY)
        known = () if version is None else ((KNOWN_API_VERSION_KEY, version),)
        self._base_metadata = (*self._declared, *known)
        self._metadata = (*self._base_metadata, *token) if token else self._base_metadata

    # --- session -------------------------------------------------------------------------

    async def get_status(self, *, timeout: float | None = None) -> session_pb2.GetStatusResponse:
        return await self.call(self.session_stub.GetStatus, session_pb2.GetStatusRequest(), timeout=timeout)

    async def health(self, service: str = "", *, timeout: float | None = None) -> str:
        """The standard gRPC health status of ``service`` ("" = the daemon): SERVING, NOT_SERVING, ..."""
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        stub = health_pb2_grpc.HealthStub(self._open())
        response = await self.call(stub.Check, health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))

    async def begin_login(self) -> session_pb2.BeginLoginResponse:
        return await self.call(self.session_stub.BeginLogin, session_pb2.BeginLoginRequest())

    async def complete_login(self, verifier: str) -> session_pb2.CompleteLoginResponse:
        return await self.call(self.session_stub.CompleteLogin, session_pb2.CompleteLoginRequest(verifier=verifier))

    async def logout(self, *, forget_credentials: bool = False) -> session_pb2.LogoutResponse:
        request = session_pb2.LogoutRequest(forget_credentials=forget_credentials)
        return await self.call(self.session_stub.Logout, request)

    async def set_credentials(self, consumer_key: str, consumer_secret: str) -> session_pb2.SetCredentialsResponse:
        """Hand the consumer key and secret to the daemon, which stores them (it owns the keyring)."""
        request = session_pb2.SetCredentialsRequest(consumer_key=consumer_key, consumer_secret=consumer_secret)
        return await self.call(self.session_stub.SetCredentials, request)

    # --- market --------------------------------------------------------------------------

    async def get_quotes(
        self, symbols: Sequence[str], *, detail: market_pb2.QuoteDetail.ValueType = market_pb2.QUOTE_DETAIL_ALL
    ) -> market_pb2.GetQuotesResponse:
        request = market_pb2.GetQuotesRequest(symbols=list(symbols), detail=detail)
        return await self.call(self.market_stub.GetQuotes, request)

    async def lookup_product(self, search: str) -> market_pb2.LookupProductResponse:
        return await self.call(self.market_stub.LookupProduct, market_pb2.LookupProductRequest(search=search))

    # --- options -------------------------------------------------------------------------

    async def get_option_expirations(
        self, symbol: str, *, expiry_type: str = ""
    ) -> options_pb2.GetOptionExpirationsResponse:
        request = options_pb2.GetOptionExpirationsRequest(symbol=symbol, expiry_type=expiry_type)
        return await self.call(self.options_stub.GetOptionExpirations, request)

    async def get_option_chain(
        self,
        symbol: str,
        *,
        expiration: str = "",
        strike_near: float | None = None,
        strike_count: int = 0,
        side: options_pb2.OptionSide.ValueType = options_pb2.OPTION_SIDE_BOTH,
        include_weeklies: bool = False,
    ) -> options_pb2.GetOptionChainResponse:
        request = options_pb2.GetOptionChainRequest(
            symbol=symbol,
            expiration=expiration,
            strike_near=strike_near,
            strike_count=strike_count,
            side=side,
            include_weeklies=include_weeklies,
        )
        return await self.call(self.options_stub.GetOptionChain, request)

    async def get_option_quote(self, symbol: str) -> options_pb2.GetOptionQuoteResponse:
        return await self.call(self.options_stub.GetOptionQuote, options_pb2.GetOptionQuoteRequest(symbol=symbol))

    # --- accounts ------------------------------------------------------------------------

    async def list_accounts(
        self, *, include_closed: bool = False, fresh: bool = False
    ) -> accounts_pb2.ListAccountsResponse:
        request = accounts_pb2.ListAccountsRequest(include_closed=include_closed, fresh=fresh)
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

    # --- history -------------------------------------------------------------------------

    async def list_transactions(
        self,
        account_id_key: str,
        *,
        start_date: str = "",
        end_date: str = "",
        kinds: Sequence[str] = (),
        symbol: str = "",
        limit: int = 0,
    ) -> history_pb2.ListTransactionsResponse:
        request = history_pb2.ListTransactionsRequest(
            account_id_key=account_id_key,
            start_date=start_date,
            end_date=end_date,
            kinds=list(kinds),
            symbol=symbol,
            limit=limit,
        )
        return await self.call(self.history_stub.ListTransactions, request)

    async def get_transaction(self, account_id_key: str, transaction_id: str) -> history_pb2.GetTransactionResponse:
        request = history_pb2.GetTransactionRequest(account_id_key=account_id_key, transaction_id=transaction_id)
        return await self.call(self.history_stub.GetTransaction, request)

    # --- alerts --------------------------------------------------------------------------

    async def list_alerts(
        self, *, category: str = "", status: str = "", search: str = "", limit: int = 0
    ) -> alerts_pb2.ListAlertsResponse:
        request = alerts_pb2.ListAlertsRequest(category=category, status=status, search=search, limit=limit)
        return await self.call(self.alerts_stub.ListAlerts, request)

    async def get_alert(self, alert_id: int) -> alerts_pb2.GetAlertResponse:
        return await self.call(self.alerts_stub.GetAlert, alerts_pb2.GetAlertRequest(alert_id=alert_id))

    async def delete_alerts(self, alert_ids: Sequence[int]) -> alerts_pb2.DeleteAlertsResponse:
        """The operator's call (etradectl); the daemon refuses it from the MCP proxy."""
        request = alerts_pb2.DeleteAlertsRequest(alert_ids=list(alert_ids))
        return await self.call(self.alerts_stub.DeleteAlerts, request)

    # --- orders (the model's side: never returns a confirmation code) --------------------

    async def list_orders(
        self,
        account_id_key: str,
        *,
        status: str = "",
        from_date: str = "",
        to_date: str = "",
        symbol: str = "",
        limit: int = 25,
    ) -> orders_pb2.ListOrdersResponse:
        request = orders_pb2.ListOrdersRequest(
            account_id_key=account_id_key,
            status=status,
            from_date=from_date,
            to_date=to_date,
            symbol=symbol,
            limit=limit,
        )
        return await self.call(self.orders_stub.ListOrders, request)

    async def get_order(self, account_id_key: str, order_id: int) -> orders_pb2.GetOrderResponse:
        request = orders_pb2.GetOrderRequest(account_id_key=account_id_key, order_id=order_id)
        return await self.call(self.orders_stub.GetOrder, request)

    async def preview_order(self, order: orders_pb2.OrderSpec) -> orders_pb2.PreviewOrderResponse:
        return await self.call(self.orders_stub.PreviewOrder, orders_pb2.PreviewOrderRequest(order=order))

    async def place_confirmed(
        self, pending_id: str, confirmation_code: str, *, timeout: float | None = None
    ) -> orders_pb2.PlaceConfirmedResponse:
        request = orders_pb2.PlaceConfirmedRequest(pending_id=pending_id, confirmation_code=confirmation_code)
        return await self.call(self.orders_stub.PlaceConfirmed, request, timeout=timeout, sends_order=True)

    async def request_cancel(self, account_id_key: str, order_id: int) -> orders_pb2.RequestCancelResponse:
        request = orders_pb2.RequestCancelRequest(account_id_key=account_id_key, order_id=order_id)
        return await self.call(self.orders_stub.RequestCancel, request)

    async def cancel_confirmed(self, pending_id: str, confirmation_code: str) -> orders_pb2.CancelConfirmedResponse:
        request = orders_pb2.CancelConfirmedRequest(pending_id=pending_id, confirmation_code=confirmation_code)
        return await self.call(self.orders_stub.CancelConfirmed, request, sends_order=True)

    async def recent_fills(self, account_id_key: str = "", *, limit: int = 20) -> orders_pb2.RecentFillsResponse:
        request = orders_pb2.RecentFillsRequest(account_id_key=account_id_key, limit=limit)
        return await self.call(self.orders_stub.RecentFills, request)

    # --- notification channels (etradectl only) -------------------------------------------
    @property
    def notifications_stub(self) -> notifications_pb2_grpc.NotificationsAsyncStub:
        return self._stub(notifications_pb2_grpc.NotificationsStub)

    async def list_channels(self) -> notifications_pb2.ListChannelsResponse:
        return await self.call(self.notifications_stub.ListChannels, notifications_pb2.ListChannelsRequest())

    async def test_channels(self, channel: str = "") -> notifications_pb2.TestChannelsResponse:
        request = notifications_pb2.TestChannelsRequest(channel=channel)
        # A channel that hangs is reported as a timeout by the daemon after its own wait.
        return await self.call(self.notifications_stub.TestChannels, request, timeout=60.0)

    async def store_channel_secret(
        self, channel: str, url: str, signing_secret: str = ""
    ) -> notifications_pb2.StoreChannelSecretResponse:
        request = notifications_pb2.StoreChannelSecretRequest(channel=channel, url=url, signing_secret=signing_secret)
        return await self.call(self.notifications_stub.StoreChannelSecret, request)

    # --- operator (etradectl only) --------------------------------------------------------

    async def list_pending(self) -> operator_pb2.ListPendingResponse:
        return await self.call(self.operator_stub.ListPending, operator_pb2.ListPendingRequest())

    async def confirm_pending(self, pending_id: str, digest: str) -> operator_pb2.ConfirmPendingResponse:
        request = operator_pb2.ConfirmPendingRequest(pending_id=pending_id, digest=digest)
        return await self.call(self.operator_stub.ConfirmPending, request, sends_order=True)

    async def reject_pending(self, pending_id: str) -> operator_pb2.RejectPendingResponse:
        return await self.call(
            self.operator_stub.RejectPending, operator_pb2.RejectPendingRequest(pending_id=pending_id)
        )

    async def halt(self, reason: str = "") -> operator_pb2.TradingState:
        return await self.call(self.operator_stub.Halt, operator_pb2.HaltRequest(reason=reason))

    async def resume(self) -> operator_pb2.TradingState:
        return await self.call(self.operator_stub.Resume, operator_pb2.ResumeRequest())

    async def trading_state(self) -> operator_pb2.TradingState:
        return await self.call(self.operator_stub.GetTradingState, operator_pb2.GetTradingStateRequest())

    async def list_audit(self, *, limit: int = 50, after_seq: int = 0) -> operator_pb2.ListAuditResponse:
        request = operator_pb2.ListAuditRequest(limit=limit, after_seq=after_seq)
        return await self.call(self.operator_stub.ListAudit, request)

    async def verify_audit(self) -> operator_pb2.VerifyAuditResponse:
        return await self.call(self.operator_stub.VerifyAudit, operator_pb2.VerifyAuditRequest())

    async def journal(self, *, everything: bool = False, limit: int = 100) -> operator_pb2.GetJournalResponse:
        request = operator_pb2.GetJournalRequest(all=everything, limit=limit)
        return await self.call(self.operator_stub.GetJournal, request)

    async def acknowledge_journal_entry(self, entry_id: int) -> operator_pb2.JournalEntry:
        request = operator_pb2.AcknowledgeJournalEntryRequest(id=entry_id)
        return await self.call(self.operator_stub.AcknowledgeJournalEntry, request)

    async def resolve_journal_entry(
        self, entry_id: int, *, order_id: int = 0, not_placed: bool = False
    ) -> operator_pb2.JournalEntry:
        request = operator_pb2.ResolveJournalEntryRequest(id=entry_id, order_id=order_id, not_placed=not_placed)
        return await self.call(self.operator_stub.ResolveJournalEntry, request)

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
        self,
        account_id_key: str,
        *,
        timeout: float = ANALYSIS_TIMEOUT,
        period_start: str = "",
        period_end: str = "",
    ) -> AsyncGenerator[analytics_pb2.AnalyzePortfolioUpdate]:
        """Progress updates, then one update carrying the analysis (with the period's activity)."""
        request = analytics_pb2.AnalyzePortfolioRequest(
            account_id_key=account_id_key, period_start=period_start, period_end=period_end
        )
        return self.stream(self.analytics_stub.AnalyzePortfolio, request, timeout=timeout)

    # --- events --------------------------------------------------------------------------

    def subscribe_events(
        self, kinds: Sequence[events_pb2.EventKind.ValueType] = ()
    ) -> AsyncGenerator[events_pb2.Event]:
        """The daemon's events (STREAM_STARTED first) until the daemon stops or the caller stops iterating."""
        request = events_pb2.SubscribeRequest(kinds=list(kinds))
        return self.stream(self.events_stub.Subscribe, request, timeout=None)

    # --- errors --------------------------------------------------------------------------

    def _translate(self, exc: grpc.aio.AioRpcError, deadline: float | None = None) -> BrokerError:
        rebuilt = error_from_metadata(dict(exc.trailing_metadata() or ()), exc.details())
        if rebuilt is not None:
            return rebuilt
        status = exc.code()
        if status == grpc.StatusCode.UNAVAILABLE:
            self._drop_failed_channel()
            return self.unreachable()
        if status == grpc.StatusCode.DEADLINE_EXCEEDED:
            return DaemonUnavailable(
                ErrorCode.DAEMON_TIMEOUT, f"the broker daemon did not answer within {deadline or self.timeout:g} s"
            )
        if status == grpc.StatusCode.RESOURCE_EXHAUSTED:  # gRPC's message size limit, before our code runs
            return make_error(
                ErrorCode.INVALID_ARGUMENT,
                "the request or its answer is larger than the broker daemon's message limit; ask for less at once",
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
        listening = _listener_behind(path)
        if listening is None:
            return DaemonUnavailable(
                ErrorCode.DAEMON_UNAVAILABLE,
                f"the broker daemon is not answering on {path} (it stopped, or the socket is stale)",
                hint=hint,
            )
        if not listening:
            return DaemonUnavailable(
                ErrorCode.DAEMON_UNAVAILABLE,
                f"the broker daemon on {path} is running but not accepting connections "
                "(out of file descriptors? other clients may be holding many connections open)",
                hint="close idle clients, or restart the daemon; its log says how many descriptors it may open",
            )
        return DaemonUnavailable(
            ErrorCode.DAEMON_UNAVAILABLE,
            f"something listens on {path} but does not answer as the broker daemon "
            "(busy, out of file descriptors, or not an etrade-daemon)",
            hint=hint,
        )
