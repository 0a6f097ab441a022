"""The typed async client of etrade-daemon, shared by the MCP proxy and etradectl.

:class:`BrokerClient` adds one method per daemon RPC, grouped by service, to the channel core in
:mod:`broker_client.channel` (channel, identity token, API version handshake, error mapping).
Callers never see ``grpc`` types: every failure is a :mod:`broker_client.errors` exception.

Import-light on purpose: grpc, the generated messages and the rest of ``broker_client`` only — never
rauth, APScheduler or keyring (a test and ``lint-imports`` check).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING

from broker_client.channel import (
    ANALYSIS_TIMEOUT,
    CHANNEL_OPTIONS,
    DEFAULT_TIMEOUT,
    IDENTIFY_RETRY,
    IDENTIFY_TIMEOUT,
    SEND_TIMEOUT,
    DaemonChannel,
)
from protos.broker.v1 import (
    accounts_pb2,
    alerts_pb2,
    analytics_pb2,
    events_pb2,
    history_pb2,
    market_pb2,
    notifications_pb2,
    operator_pb2,
    options_pb2,
    orders_pb2,
    session_pb2,
    watchlists_pb2,
)

if TYPE_CHECKING:
    from protos.broker.v1 import notifications_pb2_grpc

__all__ = [
    "ANALYSIS_TIMEOUT",
    "CHANNEL_OPTIONS",
    "DEFAULT_TIMEOUT",
    "IDENTIFY_RETRY",
    "IDENTIFY_TIMEOUT",
    "SEND_TIMEOUT",
    "BrokerClient",
]


class BrokerClient(DaemonChannel):
    """One connection to the daemon. Use as ``async with BrokerClient(...) as broker:``.

    The channel opens lazily on the first call, so constructing a client is free.
    """

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
        from protos.broker.v1.notifications_pb2_grpc import NotificationsStub

        return self._stub(NotificationsStub)

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
