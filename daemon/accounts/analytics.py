"""Portfolio analytics: allocation, unrealised P&L, concentration, cash and the day's change.

Computed by the daemon from what E*TRADE reports (the portfolio, all pages, and the balance) so
that every client gets the same numbers. Definitions (all money in USD; percentages are 0-100):

- **weight_percent** of a holding or an allocation row: its signed market value divided by the
  account's total value (E*TRADE's ``totalAccountValue``: cash plus net market value). Allocation
  tables include a ``Cash`` row, so their weights add up to 100 (short positions count negative).
- **Concentration** uses gross exposure (long value plus the absolute value of shorts) so that a
  short cannot hide a large bet: the largest position's share, the five largest together, and
  the Herfindahl index ``HHI = Σ wᵢ²`` over those gross weights (1 = a single position,
  1/N = N equal positions), with ``effective_positions = 1 / HHI``.
- **Unrealised gain** is market value minus cost basis summed over positions; its percentage is of
  the summed absolute cost basis.
- **Day change** is the sum of E*TRADE's per-position day's gain; its percentage is of the account
  value at the previous close (total value minus the day's gain).
- **Sectors** come from :mod:`daemon.market.sectors`, a table shipped with the daemon, because E*TRADE
  does not report sectors; the result names that source and how much of the portfolio it covers.

No gRPC here; the pure :func:`analyze` is tested directly and :class:`PortfolioAnalyst` fetches.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from broker_client.errors import BrokerError, Kind
from daemon.accounts.accounts import AccountsData, check_account_key
from daemon.accounts.history import HistoryData, PeriodActivity
from daemon.clock import Clock
from daemon.market import sectors
from daemon.models import Balance, Portfolio, Position

CASH = "Cash"
_ASSET_CLASSES = {
    "MF": "Mutual fund",
    "MMF": "Money market fund",
    "OPTN": "Option",
    "BOND": "Bond",
    "INDX": "Index",
}


@dataclass(frozen=True, slots=True)
class Holding:
    symbol: str
    description: str
    asset_class: str
    sector: str
    quantity: float
    market_value: float
    weight_percent: float
    cost_basis: float
    total_gain: float
    total_gain_percent: float
    days_gain: float


@dataclass(frozen=True, slots=True)
class Allocation:
    label: str
    market_value: float
    weight_percent: float
    positions: int


@dataclass(frozen=True, slots=True)
class PortfolioAnalysis:
    account_id_key: str
    as_of_unix_ms: int
    total_account_value: float
    cash_balance: float
    cash_percent: float
    long_market_value: float
    short_market_value: float
    gross_exposure: float
    position_count: int
    holdings: tuple[Holding, ...]
    by_asset_class: tuple[Allocation, ...]
    by_sector: tuple[Allocation, ...]
    sector_source: str
    sector_coverage_percent: float
    total_cost: float
    unrealized_gain: float
    unrealized_gain_percent: float
    winners: int
    losers: int
    largest_gain_symbol: str
    largest_gain: float
    largest_loss_symbol: str
    largest_loss: float
    largest_position_symbol: str
    largest_position_percent: float
    top_five_percent: float
    herfindahl_index: float
    effective_positions: float
    days_gain: float
    days_gain_percent: float
    notes: tuple[str, ...]
    activity: PeriodActivity | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """How far an analysis got: ``done`` of ``total`` steps (total None until the page count is known)."""

    done: int
    total: int | None
    message: str


ProgressFn = Callable[[Progress], Awaitable[None]]


def asset_class(position: Position) -> str:
    """A readable asset class from E*TRADE's securityType and securitySubType."""
    kind = position.security_type.upper()
    if kind == "EQ":
        return "ETF" if position.security_subtype.upper() == "ETF" else "Stock"
    return _ASSET_CLASSES.get(kind, kind or "Other")


def _percent(part: float, whole: float) -> float:
    return part / whole * 100.0 if whole else 0.0


def _money(value: float) -> float:
    return round(value, 2)


def _pct(value: float) -> float:
    return round(value, 2)


def _allocations(groups: dict[str, list[Position]], cash: float, total: float) -> tuple[Allocation, ...]:
    rows = [
        Allocation(
            label=label,
            market_value=_money(sum(p.market_value for p in members)),
            weight_percent=_pct(_percent(sum(p.market_value for p in members), total)),
            positions=len(members),
        )
        for label, members in groups.items()
    ]
    rows.sort(key=lambda row: (-abs(row.market_value), row.label))
    rows.append(Allocation(CASH, _money(cash), _pct(_percent(cash, total)), 0))
    return tuple(rows)


def analyze(portfolio: Portfolio, balance: Balance, *, as_of_unix_ms: int) -> PortfolioAnalysis:
    """The analysis of one account from its portfolio (all pages) and balance."""
    positions = [p for p in portfolio.positions if p.quantity != 0 or p.market_value != 0]
    total = balance.total_account_value
    cash = balance.cash_balance
    long_value = sum(p.market_value for p in positions if p.market_value > 0)
    short_value = sum(p.market_value for p in positions if p.market_value < 0)
    gross = long_value - short_value
    notes: list[str] = []

    by_class: dict[str, list[Position]] = {}
    by_sector: dict[str, list[Position]] = {}
    holdings: list[Holding] = []
    for p in positions:
        cls = asset_class(p)
        sector = sectors.sector_of(p.symbol) or sectors.UNKNOWN
        by_class.setdefault(cls, []).append(p)
        by_sector.setdefault(sector, []).append(p)
        holdings.append(
            Holding(
                symbol=p.symbol,
                description=p.description,
                asset_class=cls,
                sector=sector,
                quantity=p.quantity,
                market_value=_money(p.market_value),
                weight_percent=_pct(_percent(p.market_value, total)),
                cost_basis=_money(p.total_cost),
                total_gain=_money(p.total_gain),
                total_gain_percent=_pct(_percent(p.total_gain, abs(p.total_cost))),
                days_gain=_money(p.days_gain),
            )
        )
    holdings.sort(key=lambda h: (-abs(h.market_value), h.symbol))

    gross_weights = sorted((abs(p.market_value) / gross for p in positions), reverse=True) if gross else []
    hhi = sum(w * w for w in gross_weights)
    largest = max(positions, key=lambda p: abs(p.market_value), default=None)
    gains = [p for p in positions if p.total_gain > 0]
    losses = [p for p in positions if p.total_gain < 0]
    best = max(gains, key=lambda p: p.total_gain, default=None)
    worst = min(losses, key=lambda p: p.total_gain, default=None)
    cost = sum(p.total_cost for p in positions)
    gain = sum(p.total_gain for p in positions)
    days_gain = sum(p.days_gain for p in positions)
    known = sum(abs(p.market_value) for p in positions if sectors.sector_of(p.symbol) is not None)
    coverage = _percent(known, gross) if gross else 100.0

    notes.append("Sectors: " + sectors.SOURCE)
    unknown = sorted({p.symbol for p in positions if sectors.sector_of(p.symbol) is None})
    if unknown:
        notes.append(
            f"{len(unknown)} holding(s) ({_pct(100.0 - coverage)}% of gross exposure) are not in the sector table "
            f"and count as {sectors.UNKNOWN}: {', '.join(unknown)}."
        )
    if short_value:
        notes.append(
            "The account holds short positions: their weights are negative; concentration uses gross exposure."
        )
    if cash < 0:
        notes.append("Cash is negative: the account is borrowing on margin.")
    if not positions:
        notes.append("E*TRADE reported no positions in this account.")
    if total <= 0:
        notes.append("The total account value is not positive, so weights relative to it are reported as 0.")
        total = 0.0

    return PortfolioAnalysis(
        account_id_key=portfolio.account_id_key,
        as_of_unix_ms=as_of_unix_ms,
        total_account_value=_money(balance.total_account_value),
        cash_balance=_money(cash),
        cash_percent=_pct(_percent(cash, total)),
        long_market_value=_money(long_value),
        short_market_value=_money(short_value),
        gross_exposure=_money(gross),
        position_count=len(positions),
        holdings=tuple(holdings),
        by_asset_class=_allocations(by_class, cash, total),
        by_sector=_allocations(by_sector, cash, total),
        sector_source=sectors.SOURCE,
        sector_coverage_percent=_pct(coverage),
        total_cost=_money(cost),
        unrealized_gain=_money(gain),
        unrealized_gain_percent=_pct(_percent(gain, sum(abs(p.total_cost) for p in positions))),
        winners=len(gains),
        losers=len(losses),
        largest_gain_symbol=best.symbol if best else "",
        largest_gain=_money(best.total_gain) if best else 0.0,
        largest_loss_symbol=worst.symbol if worst else "",
        largest_loss=_money(worst.total_gain) if worst else 0.0,
        largest_position_symbol=largest.symbol if largest else "",
        largest_position_percent=_pct(_percent(abs(largest.market_value), gross)) if largest else 0.0,
        top_five_percent=_pct(100.0 * sum(gross_weights[:5])),
        herfindahl_index=round(hhi, 4),
        effective_positions=round(1.0 / hhi, 2) if hhi else 0.0,
        days_gain=_money(days_gain),
        days_gain_percent=_pct(_percent(days_gain, balance.total_account_value - days_gain)),
        notes=tuple(notes),
    )


class PortfolioAnalyst:
    """Fetches an account's portfolio (every page) and balance concurrently, then analyses them."""

    def __init__(self, accounts: AccountsData, clock: Clock, history: HistoryData | None = None) -> None:
        self._accounts = accounts
        self._clock = clock
        self._history = history

    async def analyze(
        self, raw_key: str, progress: ProgressFn | None = None, *, period_start: str = "", period_end: str = ""
    ) -> PortfolioAnalysis:
        """The analysis, with the period's activity (default: the year to date) when a history is wired."""
        key = check_account_key(raw_key)
        if self._history is not None and (period_start.strip() or period_end.strip()):
            self._history.date_range(period_start, period_end)  # a bad period fails before any fetch
        done = 0
        pages: int | None = None

        async def step(message: str) -> None:
            nonlocal done
            done += 1
            if progress is not None:
                steps = 2 + (self._history is not None)
                await progress(Progress(done, pages + steps if pages is not None else None, message))

        async def on_page(page: int, total_pages: int) -> None:
            nonlocal pages
            pages = max(total_pages, page)
            await step(f"fetched portfolio page {page} of {pages}")

        async def fetch_balance() -> Balance:
            balance = await self._accounts.balance(key)
            await step("fetched the balance")
            return balance

        history = self._history

        async def fetch_activity() -> PeriodActivity | str:
            assert history is not None
            try:
                activity = await history.activity(key, start_date=period_start, end_date=period_end)
            except BrokerError as exc:
                if exc.code.kind in (Kind.SESSION, Kind.NOT_FOUND, Kind.INVALID):
                    raise  # the same failure the portfolio would report
                await step("could not read the transactions")
                return f"Dividends and realised gains are missing: the transactions could not be read ({exc.message})."
            await step("fetched the transactions")
            return activity

        try:
            async with asyncio.TaskGroup() as group:
                balance_task = group.create_task(fetch_balance())
                portfolio_task = group.create_task(self._accounts.portfolio(key, on_page=on_page))
                activity_task = group.create_task(fetch_activity()) if history is not None else None
        except ExceptionGroup as failed:
            # The fetches usually fail for the same reason (unknown account, session): report one.
            raise failed.exceptions[0] from None
        result = analyze(portfolio_task.result(), balance_task.result(), as_of_unix_ms=int(self._clock.now() * 1000))
        if activity_task is not None:
            activity = activity_task.result()
            if isinstance(activity, str):
                result = dataclasses.replace(result, notes=(*result.notes, activity))
            else:
                notes = result.notes
                if not activity.complete:
                    notes = (
                        *notes,
                        f"Realised gains cover only the sales whose purchases are in E*TRADE's three years of "
                        f"history: {activity.unmatched_sales} sale(s) in the period have no known cost.",
                    )
                result = dataclasses.replace(result, activity=activity, notes=notes)
        await step("computed the analysis")
        return result
