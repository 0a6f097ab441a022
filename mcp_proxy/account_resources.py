"""MCP resources: account summaries, positions and watchlists as JSON documents.

Resources are the application-controlled side of MCP: a client (or its user) attaches them to a
conversation, and may subscribe to be told when one changes. The templates below take an
account_id_key (from list_accounts) or a watchlist name, both completable through
``completion/complete``. Every read goes to the daemon, so the data is as fresh as a tool call.

- ``market://watchlists`` — the configured watchlists (static).
- ``account://{account_id_key}/summary`` — balance, buying power, number of positions.
- ``portfolio://{account_id_key}/positions`` — every position with P&L, cost basis, market value.
- ``market://watchlist/{name}`` — quotes for one watchlist's symbols.

``resources/list`` also names each configured watchlist's ``market://watchlist/{name}``, so clients
that only offer listed resources (not templates) can attach them; it changes when a watchlist is
created or deleted, which the proxy announces (``notifications/resources/list_changed``). Accounts
are not listed: naming them needs a live E*TRADE session, and the templates complete their keys.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import ListResourcesResult, PaginatedRequestParams, Resource
from pydantic import BaseModel, Field

from mcp_proxy import models
from mcp_proxy.analytics_models import WatchlistList
from mcp_proxy.completions import Completions
from mcp_proxy.daemon_link import DaemonLink

JSON = "application/json"
WATCHLISTS_URI = "market://watchlists"
ACCOUNT_SUMMARY = "account://{account_id_key}/summary"
PORTFOLIO_POSITIONS = "portfolio://{account_id_key}/positions"
WATCHLIST_QUOTES = "market://watchlist/{name}"

T = TypeVar("T")


class AccountSummary(BaseModel):
    """The headline numbers of one account. Money in USD."""

    account_id_key: str
    description: str
    account_type: str
    account_mode: str = Field(description="CASH or MARGIN (IRA accounts report their own mode)")
    total_account_value: float
    cash_balance: float
    cash_buying_power: float
    margin_buying_power: float
    market_value_long: float
    market_value_short: float
    funds_for_open_orders: float
    position_count: int
    fetched_at_unix_ms: int
    positions_uri: str = Field(description="the resource with every position")


class WatchlistQuotes(BaseModel):
    """A watchlist's quotes, in the watchlist's order; symbols E*TRADE could not quote are in errors."""

    name: str
    symbols: list[str]
    quotes: list[models.Quote]
    errors: list[models.SymbolProblem]


def watchlist_uri(name: str) -> str:
    return f"market://watchlist/{name}"


def resource_error(exc: Any) -> ResourceError:
    """A BrokerError as the resource error a client shows: message, next step, stable code."""
    from broker_client.errors import Kind

    text = f"{exc.message}. Next step: {exc.hint}. [{exc.code.value}]"
    # The SDK answers ResourceNotFoundError with -32602 (invalid params) and any other ResourceError
    # with -32603 (internal error); a bad or unknown argument in the URI is the former.
    if exc.code.kind in (Kind.NOT_FOUND, Kind.INVALID):
        return ResourceNotFoundError(text)
    return ResourceError(text)


async def _read(coro: Awaitable[T]) -> T:
    from broker_client.errors import BrokerError

    try:
        return await coro
    except BrokerError as exc:
        raise resource_error(exc) from None


def _json(model: BaseModel) -> str:
    return model.model_dump_json(indent=2)


async def account_keys(daemon: DaemonLink) -> list[str]:
    response = await daemon.client().list_accounts()
    return [account.account_id_key for account in response.accounts]


async def watchlist_names(daemon: DaemonLink) -> list[str]:
    response = await daemon.client().list_watchlists()
    return [watchlist.name for watchlist in response.watchlists]


async def watchlist_resources(daemon: DaemonLink) -> list[Resource]:
    """One listed resource per configured watchlist; none when the daemon cannot be asked."""
    from broker_client.errors import BrokerError

    try:
        response = await daemon.client().list_watchlists()
    except BrokerError:
        return []  # the static resources still list; reading them explains what is wrong
    return [
        Resource(
            uri=watchlist_uri(w.name),
            name=f"watchlist_{w.name}",
            title=f"Watchlist {w.name}",
            description=f"Quotes for the watchlist {w.name}: {', '.join(w.symbols) or 'no symbols yet'}.",
            mime_type=JSON,
        )
        for w in response.watchlists
    ]


def list_watchlists_as_resources(server: MCPServer, daemon: DaemonLink) -> None:
    """Serve ``resources/list`` as the static resources plus one entry per configured watchlist.

    MCPServer lists only resources registered up front, so the low-level handler is replaced
    (the SDK exposes no public hook for a dynamic list).
    """

    async def list_resources(ctx: Any, params: PaginatedRequestParams) -> ListResourcesResult:
        return ListResourcesResult(resources=[*await server.list_resources(), *await watchlist_resources(daemon)])

    server._lowlevel_server.add_request_handler("resources/list", PaginatedRequestParams, list_resources)


def register_account_resources(server: MCPServer, daemon: DaemonLink, completions: Completions) -> None:
    @server.resource(
        WATCHLISTS_URI,
        name="watchlists",
        title="Watchlists",
        description="The user's watchlists (name and symbols) from the daemon's config file. "
        "Each one's quotes are at market://watchlist/{name}.",
        mime_type=JSON,
    )
    async def watchlists() -> str:
        response = await _read(daemon.client().list_watchlists())
        return _json(WatchlistList.model_validate(models.message_to_dict(response)))

    @server.resource(
        ACCOUNT_SUMMARY,
        name="account_summary",
        title="Account summary",
        description="One account's total value, cash, buying power (cash and margin), long and short "
        "market value and number of positions, from E*TRADE. account_id_key comes from list_accounts.",
        mime_type=JSON,
    )
    async def account_summary(account_id_key: str) -> str:
        client = daemon.client()
        balance = (await _read(client.get_balance(account_id_key))).balance
        portfolio = await _read(client.get_portfolio(account_id_key))
        summary = AccountSummary(
            account_id_key=balance.account_id_key,
            description=balance.description,
            account_type=balance.account_type,
            account_mode=balance.account_mode,
            total_account_value=balance.total_account_value,
            cash_balance=balance.cash_balance,
            cash_buying_power=balance.cash_buying_power,
            margin_buying_power=balance.margin_buying_power,
            market_value_long=balance.market_value_long,
            market_value_short=balance.market_value_short,
            funds_for_open_orders=balance.funds_for_open_orders,
            position_count=len(portfolio.positions),
            fetched_at_unix_ms=balance.fetched_at_unix_ms,
            positions_uri=PORTFOLIO_POSITIONS.format(account_id_key=balance.account_id_key),
        )
        return _json(summary)

    @server.resource(
        PORTFOLIO_POSITIONS,
        name="portfolio_positions",
        title="Portfolio positions",
        description="Every position of one account (all of E*TRADE's pages) with quantity, cost basis, "
        "market value, today's and total gain (P&L), share of the portfolio, and the account totals.",
        mime_type=JSON,
    )
    async def portfolio_positions(account_id_key: str) -> str:
        response = await _read(daemon.client().get_portfolio(account_id_key))
        return _json(models.Portfolio.model_validate(models.message_to_dict(response)))

    @server.resource(
        WATCHLIST_QUOTES,
        name="watchlist_quotes",
        title="Watchlist quotes",
        description="Quotes (last, change, bid/ask, volume, 52-week range) for every symbol of one "
        "configured watchlist, in its order. Watchlists are listed at market://watchlists.",
        mime_type=JSON,
    )
    async def watchlist_quotes(name: str) -> str:
        client = daemon.client()
        watchlist = (await _read(client.get_watchlist(name))).watchlist
        symbols = list(watchlist.symbols)
        quotes: list[models.Quote] = []
        errors: list[models.SymbolProblem] = []
        if symbols:
            batch = models.QuoteList.model_validate(models.message_to_dict(await _read(client.get_quotes(symbols))))
            quotes, errors = batch.quotes, batch.errors
        return _json(WatchlistQuotes(name=watchlist.name, symbols=symbols, quotes=quotes, errors=errors))

    async def complete_accounts(partial: str, chosen: Mapping[str, str]) -> Sequence[str]:
        return await account_keys(daemon)

    async def complete_watchlists(partial: str, chosen: Mapping[str, str]) -> Sequence[str]:
        return await watchlist_names(daemon)

    list_watchlists_as_resources(server, daemon)
    completions.for_template(ACCOUNT_SUMMARY, "account_id_key", complete_accounts)
    completions.for_template(PORTFOLIO_POSITIONS, "account_id_key", complete_accounts)
    completions.for_template(WATCHLIST_QUOTES, "name", complete_watchlists)
