"""The structured results of the MCP tools (their output schemas), built from the daemon's messages.

Written by hand rather than derived from the protobuf descriptors: loading those would add ~35 ms
to the proxy's start-up. tests/mcp_proxy/test_models_match_protos.py keeps the two in step.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from broker_client.wire import message_to_dict

__all__ = ["message_to_dict"]


class Quote(BaseModel):
    """A quote as E*TRADE reported it. Prices in USD; absent values are null."""

    symbol: str
    company_name: str = ""
    security_type: str = ""
    exchange: str = ""
    quote_status: str = Field("", description="REALTIME, DELAYED, CLOSING, EH_REALTIME, ...")
    quote_time_unix: int = Field(0, description="time of the quote, epoch seconds")
    last_trade: float | None = None
    change: float | None = Field(None, description="change from the previous close")
    change_percent: float | None = None
    bid: float | None = None
    bid_size: int | None = None
    ask: float | None = None
    ask_size: int | None = None
    open: float | None = None
    high: float | None = None
    low: float | None = None
    previous_close: float | None = None
    volume: int | None = None
    high_52_week: float | None = None
    low_52_week: float | None = None
    pe_ratio: float | None = None
    eps: float | None = None
    market_cap: float | None = None
    dividend_yield: float | None = None
    beta: float | None = None
    average_volume: int | None = None
    fetched_at_unix_ms: int = Field(0, description="when the daemon received it from E*TRADE, epoch ms")


class SymbolProblem(BaseModel):
    symbol: str
    code: str = Field(description="INVALID_SYMBOL, ...")
    message: str


class QuoteList(BaseModel):
    """Quotes in the order asked, and the symbols that could not be quoted with the reason."""

    quotes: list[Quote]
    errors: list[SymbolProblem]


class Account(BaseModel):
    account_id_key: str = Field(description="pass this to the other account tools")
    account_number_masked: str
    name: str
    description: str
    account_type: str
    account_mode: str
    institution_type: str
    status: str
    closed_at_unix: int = 0


class AccountList(BaseModel):
    accounts: list[Account]


class Balance(BaseModel):
    """Balances in USD."""

    account_id_key: str
    account_type: str
    account_mode: str
    description: str
    option_level: str
    day_trader_status: str
    total_account_value: float
    net_cash: float
    cash_balance: float
    cash_available_for_investment: float
    cash_available_for_withdrawal: float
    cash_buying_power: float
    margin_buying_power: float
    settled_cash_for_investment: float
    unsettled_cash_for_investment: float
    funds_for_open_orders: float
    market_value_long: float
    market_value_short: float
    net_market_value: float
    margin_balance: float
    fetched_at_unix_ms: int


class Position(BaseModel):
    """One position; quantity is negative for short positions. Money in USD."""

    position_id: int
    symbol: str
    description: str
    security_type: str
    security_subtype: str
    position_type: str
    quantity: float
    price_paid: float
    cost_per_share: float
    total_cost: float
    market_value: float
    last_price: float
    change: float
    change_percent: float
    days_gain: float
    days_gain_percent: float
    total_gain: float
    total_gain_percent: float
    percent_of_portfolio: float
    date_acquired_unix_ms: int
    volume: int
    commissions: float
    other_fees: float


class PortfolioTotals(BaseModel):
    total_market_value: float
    total_gain: float
    total_gain_percent: float
    total_cost: float
    todays_gain: float
    todays_gain_percent: float
    cash_balance: float


class Portfolio(BaseModel):
    account_id_key: str
    positions: list[Position]
    totals: PortfolioTotals | None = None
    fetched_at_unix_ms: int


class Lot(BaseModel):
    """A tax lot. term: SHORT (held one year or less) or LONG."""

    position_id: int
    lot_id: int
    price: float
    original_quantity: float
    remaining_quantity: float
    acquired_at_unix_ms: int
    market_value: float
    total_cost: float
    total_gain: float
    days_gain: float
    term: str


class PositionDetails(BaseModel):
    account_id_key: str
    positions: list[Position]
    lots: list[Lot]
    quote: Quote | None = None
