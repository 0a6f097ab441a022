"""Domain types of the daemon: what E*TRADE told us, in our own words.

Plain frozen dataclasses; no gRPC, no MCP. Field names equal the field names of the matching
protobuf messages in ``protos/broker/v1`` so that ``daemon/rpc/convert/`` stays mechanical.
``None`` means "E*TRADE did not report it".
"""

from __future__ import annotations

from dataclasses import dataclass

from broker_client.symbols import SymbolError


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: str
    company_name: str = ""
    security_type: str = ""
    exchange: str = ""
    quote_status: str = ""
    quote_time_unix: int = 0
    last_trade: float | None = None
    change: float | None = None
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
    fetched_at_unix_ms: int = 0


@dataclass(frozen=True, slots=True)
class QuoteBatch:
    quotes: tuple[Quote, ...]
    errors: tuple[SymbolError, ...] = ()


@dataclass(frozen=True, slots=True)
class Product:
    symbol: str
    description: str
    type: str


@dataclass(frozen=True, slots=True)
class Account:
    account_id_key: str
    account_number_masked: str
    name: str
    description: str
    account_type: str
    account_mode: str
    institution_type: str
    status: str
    closed_at_unix: int = 0

    @property
    def is_open(self) -> bool:
        return self.status.upper() != "CLOSED"


@dataclass(frozen=True, slots=True)
class Balance:
    account_id_key: str
    account_type: str = ""
    account_mode: str = ""
    description: str = ""
    option_level: str = ""
    day_trader_status: str = ""
    total_account_value: float = 0.0
    net_cash: float = 0.0
    cash_balance: float = 0.0
    cash_available_for_investment: float = 0.0
    cash_available_for_withdrawal: float = 0.0
    cash_buying_power: float = 0.0
    margin_buying_power: float = 0.0
    settled_cash_for_investment: float = 0.0
    unsettled_cash_for_investment: float = 0.0
    funds_for_open_orders: float = 0.0
    market_value_long: float = 0.0
    market_value_short: float = 0.0
    net_market_value: float = 0.0
    margin_balance: float = 0.0
    fetched_at_unix_ms: int = 0


@dataclass(frozen=True, slots=True)
class Position:
    position_id: int
    symbol: str
    description: str = ""
    security_type: str = ""
    security_subtype: str = ""
    position_type: str = "LONG"
    quantity: float = 0.0
    price_paid: float = 0.0
    cost_per_share: float = 0.0
    total_cost: float = 0.0
    market_value: float = 0.0
    last_price: float = 0.0
    change: float = 0.0
    change_percent: float = 0.0
    days_gain: float = 0.0
    days_gain_percent: float = 0.0
    total_gain: float = 0.0
    total_gain_percent: float = 0.0
    percent_of_portfolio: float = 0.0
    date_acquired_unix_ms: int = 0
    volume: int = 0
    commissions: float = 0.0
    other_fees: float = 0.0


@dataclass(frozen=True, slots=True)
class PortfolioTotals:
    total_market_value: float = 0.0
    total_gain: float = 0.0
    total_gain_percent: float = 0.0
    total_cost: float = 0.0
    todays_gain: float = 0.0
    todays_gain_percent: float = 0.0
    cash_balance: float = 0.0


@dataclass(frozen=True, slots=True)
class PortfolioPage:
    """One page of E*TRADE's portfolio answer."""

    positions: tuple[Position, ...]
    totals: PortfolioTotals | None
    total_pages: int
    next_page: int | None


@dataclass(frozen=True, slots=True)
class Portfolio:
    account_id_key: str
    positions: tuple[Position, ...]
    totals: PortfolioTotals
    fetched_at_unix_ms: int = 0


@dataclass(frozen=True, slots=True)
class Lot:
    position_id: int
    lot_id: int
    price: float = 0.0
    original_quantity: float = 0.0
    remaining_quantity: float = 0.0
    acquired_at_unix_ms: int = 0
    market_value: float = 0.0
    total_cost: float = 0.0
    total_gain: float = 0.0
    days_gain: float = 0.0
    term: str = ""


@dataclass(frozen=True, slots=True)
class PositionDetails:
    account_id_key: str
    positions: tuple[Position, ...]
    lots: tuple[Lot, ...]
    quote: Quote | None = None
