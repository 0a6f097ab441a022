"""Output models of the option and symbol-lookup tools (their JSON shapes).

Field names equal those of the daemon's messages (options.proto, market.proto); a test keeps them
from drifting apart.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class OptionExpiration(BaseModel):
    date: str = Field(description="expiration date, YYYY-MM-DD (options stop trading at 16:00 US Eastern)")
    expiry_type: str = Field(description="WEEKLY or MONTHLY (standard third-Friday expiration), ...")
    days_to_expiration: int


class OptionExpirations(BaseModel):
    """An underlying's option expiration dates, nearest first."""

    symbol: str
    expirations: list[OptionExpiration]


class OptionContract(BaseModel):
    """One option contract. Prices are per share (one contract covers 100 shares); null when absent."""

    symbol: str = Field(description="E*TRADE's option symbol; pass it to get_option_quote")
    osi_key: str = Field(description="OSI symbol, e.g. AAPL--260619C00200000")
    display_symbol: str
    option_type: str = Field(description="CALL or PUT")
    strike: float
    expiration: str = Field(description="YYYY-MM-DD")
    bid: float | None = None
    ask: float | None = None
    bid_size: int | None = None
    ask_size: int | None = None
    last: float | None = None
    net_change: float | None = Field(None, description="change of the last price since the previous close")
    volume: int | None = None
    open_interest: int | None = None
    in_the_money: bool
    delta: float | None = None
    gamma: float | None = None
    theta: float | None = Field(None, description="value lost per calendar day")
    vega: float | None = Field(None, description="value change per volatility point")
    rho: float | None = None
    implied_volatility: float | None = Field(None, description="a fraction: 0.25 is 25 %")


class OptionChainRow(BaseModel):
    strike: float
    call: OptionContract | None = None
    put: OptionContract | None = None


class OptionChain(BaseModel):
    """One expiration of an option chain: rows of strikes (ascending) with the call and/or put."""

    symbol: str
    expiration: str = Field(description="the expiration E*TRADE selected, YYYY-MM-DD")
    near_price: float = Field(description="the listed strike nearest the asked price")
    quote_type: str = Field(description="REALTIME, DELAYED, CLOSING, ...")
    quote_time_unix: int
    rows: list[OptionChainRow]
    fetched_at_unix_ms: int = Field(description="when the daemon received it from E*TRADE, epoch ms")


class OptionQuote(BaseModel):
    """The quote of one option contract."""

    contract: OptionContract | None = None
    underlying: str
    days_to_expiration: int | None = None
    intrinsic_value: float | None = None
    time_premium: float | None = None
    previous_close: float | None = None
    quote_status: str
    quote_time_unix: int
    fetched_at_unix_ms: int


class LookupMatch(BaseModel):
    symbol: str
    description: str
    type: str = Field(description="EQUITY, MUTUAL_FUND, ...")


class SymbolLookup(BaseModel):
    """Securities whose company name matches the search, at most `limit` of them."""

    products: list[LookupMatch]
    more_matches: int = Field(description="matches left out beyond the limit; narrow the search to see them")
