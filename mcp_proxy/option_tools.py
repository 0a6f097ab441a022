"""Market tools beyond quotes: symbol lookup, option expirations, option chains, option quotes."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server import MCPServer
from pydantic import Field

from mcp_proxy.daemon_link import DaemonLink
from mcp_proxy.models import message_to_dict
from mcp_proxy.option_models import (
    LookupMatch,
    OptionChain,
    OptionExpirations,
    OptionQuote,
    SymbolLookup,
)
from mcp_proxy.tool_support import READ_ONLY, SymbolArg, call_daemon

#: A chain result holds at most this many strikes, a call and a put each (40 contracts): small
#: enough for a model's context, wide enough to see the strikes around the money.
MAX_CHAIN_STRIKES = 20
#: Lookup answers at most this many matches; the rest are counted in ``more_matches``.
MAX_LOOKUP_MATCHES = 20

_SIDES = {"both": 1, "calls": 2, "puts": 3}  # options_pb2.OptionSide values (no protobuf import here)


def register_option_tools(server: MCPServer, daemon: DaemonLink) -> None:
    @server.tool(title="Look up a symbol", annotations=READ_ONLY)
    async def lookup_symbol(
        company: Annotated[
            str,
            Field(
                description="Company or fund name, or part of it, e.g. 'apple' or 'vanguard 500'",
                min_length=1,
                max_length=64,
            ),
        ],
    ) -> SymbolLookup:
        """Find ticker symbols from a company or fund name with E*TRADE's product lookup (it searches
        names, not symbols). Returns up to 20 matches with symbol, description and type (EQUITY,
        MUTUAL_FUND, ...); more_matches counts the rest."""
        response = await call_daemon(daemon.client().lookup_product(company))
        matches = [LookupMatch.model_validate(message_to_dict(p)) for p in response.products]
        return SymbolLookup(
            products=matches[:MAX_LOOKUP_MATCHES], more_matches=max(0, len(matches) - MAX_LOOKUP_MATCHES)
        )

    @server.tool(title="Option expirations", annotations=READ_ONLY)
    async def get_option_expirations(
        symbol: SymbolArg,
        expiry_type: Annotated[
            Literal["ALL", "WEEKLY", "MONTHLY"],
            Field(description="ALL (default), WEEKLY, or MONTHLY (the standard third-Friday expirations)"),
        ] = "ALL",
    ) -> OptionExpirations:
        """List the option expiration dates of a stock or ETF, nearest first, each with its type
        (WEEKLY or MONTHLY) and the days left. Use a date with get_option_chain."""
        response = await call_daemon(daemon.client().get_option_expirations(symbol, expiry_type=expiry_type))
        return OptionExpirations.model_validate(message_to_dict(response))

    @server.tool(title="Option chain", annotations=READ_ONLY)
    async def get_option_chain(
        symbol: SymbolArg,
        expiration: Annotated[
            str | None,
            Field(
                description="Expiration date YYYY-MM-DD from get_option_expirations; omit for the nearest "
                "monthly (or the nearest weekly with include_weeklies)",
                pattern=r"^\d{4}-\d{2}-\d{2}$",
            ),
        ] = None,
        strike_near: Annotated[
            float | None,
            Field(description="Center the strikes on this price; omit to center on the last price", gt=0),
        ] = None,
        strike_count: Annotated[
            int, Field(description=f"How many strikes, 1-{MAX_CHAIN_STRIKES} (default 10)", ge=1, le=MAX_CHAIN_STRIKES)
        ] = 10,
        side: Annotated[Literal["both", "calls", "puts"], Field(description="Calls, puts or both")] = "both",
        include_weeklies: Annotated[
            bool, Field(description="Let the default expiration be a weekly one (when expiration is omitted)")
        ] = False,
    ) -> OptionChain:
        """Get one expiration of a stock's or ETF's option chain: the strikes nearest a price (at most
        20 strikes, so at most 40 contracts), each with bid/ask and sizes, last price and change,
        volume, open interest, in-the-money flag, greeks (delta, gamma, theta per day, vega, rho) and
        implied volatility. Prices are per share; a contract covers 100 shares. Each contract's
        `symbol` works with get_option_quote."""
        response = await call_daemon(
            daemon.client().get_option_chain(
                symbol,
                expiration=expiration or "",
                strike_near=strike_near,
                strike_count=strike_count,
                side=_SIDES[side],  # type: ignore[arg-type]
                include_weeklies=include_weeklies,
            )
        )
        return OptionChain.model_validate(message_to_dict(response))

    @server.tool(title="Option quote", annotations=READ_ONLY)
    async def get_option_quote(
        option_symbol: Annotated[
            str,
            Field(
                description="The contract: E*TRADE's form ROOT:YEAR:MONTH:DAY:CALL|PUT:STRIKE "
                "(e.g. AAPL:2026:6:19:CALL:200, as get_option_chain returns it) or the OSI symbol "
                "(e.g. AAPL260619C00200000)",
                min_length=5,
                max_length=40,
            ),
        ],
    ) -> OptionQuote:
        """Get the quote of one option contract: bid/ask, last and change, volume, open interest,
        greeks and implied volatility, intrinsic value and time premium, days to expiration."""
        response = await call_daemon(daemon.client().get_option_quote(option_symbol))
        return OptionQuote.model_validate(message_to_dict(response))
