"""Output models of analyze_portfolio and the watchlist tool and resources (their JSON shapes).

Field names equal those of the daemon's messages (analytics.proto, watchlists.proto); a test keeps
them from drifting apart.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Holding(BaseModel):
    """One position. Money in USD; percentages 0-100."""

    symbol: str
    description: str
    asset_class: str = Field(description="Stock, ETF, Mutual fund, Money market fund, Option, Bond, ...")
    sector: str = Field(description="from etrade-mcp's bundled table (not E*TRADE), or Unknown")
    quantity: float = Field(description="negative for a short position")
    market_value: float
    weight_percent: float = Field(description="signed market value / total account value x 100")
    cost_basis: float
    total_gain: float = Field(description="unrealised gain: market value minus cost basis")
    total_gain_percent: float
    days_gain: float


class Allocation(BaseModel):
    label: str
    market_value: float
    weight_percent: float = Field(description="of the total account value; the rows (with Cash) add up to 100")
    positions: int


class PeriodActivity(BaseModel):
    """Over a period, from the account's transactions. USD. Realised gains match sales to purchases
    first-in first-out within E*TRADE's three years of history."""

    start_date: str
    end_date: str
    dividends: float
    interest: float
    fees: float = Field(description="fees and charges paid")
    net_transfers: float = Field(description="transfers in minus out")
    sales: int = Field(description="closing trades (sells, covers) in the period")
    proceeds: float
    cost_basis: float
    realized_gain: float
    realized_short_term: float = Field(description="from lots held one year or less")
    realized_long_term: float = Field(description="from lots held more than one year")
    unmatched_sales: int = Field(description="sales whose purchases are older than the history: no known cost")
    complete: bool = Field(description="false when some realised gains could not be computed")


class PortfolioAnalysis(BaseModel):
    """Allocation, unrealised P&L, concentration, cash and the day's change of one account."""

    account_id_key: str
    as_of_unix_ms: int
    total_account_value: float = Field(description="E*TRADE's total: cash plus net market value")
    cash_balance: float
    cash_percent: float
    long_market_value: float
    short_market_value: float = Field(description="negative: the value of short positions")
    gross_exposure: float = Field(description="long value plus the absolute value of shorts")
    position_count: int
    holdings: list[Holding] = Field(description="allocation by position, largest first")
    by_asset_class: list[Allocation]
    by_sector: list[Allocation] = Field(description="sectors (stocks), asset classes (funds), Unknown and Cash")
    sector_source: str = Field(description="where the sector data comes from (not E*TRADE)")
    sector_coverage_percent: float = Field(description="share of gross exposure whose sector is known")
    total_cost: float
    unrealized_gain: float
    unrealized_gain_percent: float = Field(description="of the summed absolute cost basis")
    winners: int
    losers: int
    largest_gain_symbol: str
    largest_gain: float
    largest_loss_symbol: str
    largest_loss: float
    largest_position_symbol: str
    largest_position_percent: float = Field(description="of gross exposure")
    top_five_percent: float = Field(description="the five largest positions' share of gross exposure")
    herfindahl_index: float = Field(description="sum of squared gross weights: 1 = one position, 1/N = N equal ones")
    effective_positions: float = Field(description="1 / Herfindahl index")
    days_gain: float
    days_gain_percent: float = Field(description="of the account value at the previous close")
    notes: list[str]
    activity: PeriodActivity | None = Field(
        None, description="dividends, interest, fees and realised gains over the period (default: year to date)"
    )


class Watchlist(BaseModel):
    name: str
    symbols: list[str]


class WatchlistList(BaseModel):
    """The watchlists configured in the daemon (config.toml [watchlists])."""

    watchlists: list[Watchlist]
    problems: list[str] = Field(description="config entries that are invalid and ignored until fixed by hand")
    config_path: str = Field(description="the file that holds them (empty: kept in memory only)")
