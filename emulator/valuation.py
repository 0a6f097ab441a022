"""Position and account arithmetic, kept in one place so balances, portfolio rows, totals and
lots always agree with each other and with the quotes.

Conventions (signed, so shorts need no special cases):
- market value = quantity x last trade (negative for a short);
- cost basis = quantity x price paid + commissions + fees (negative proceeds for a short);
- total gain = market value - cost basis;
- day's gain = quantity x (last - previous close) for lots held before today's session, and
  quantity x (last - lot price) for lots acquired during it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from emulator.book import Account, Lot, Position
from emulator.market import Snapshot, session_open


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / abs(whole), 4) if whole else 0.0


@dataclass(frozen=True)
class LotValue:
    """A lot priced at a snapshot."""

    lot: Lot
    market_value: float
    total_cost: float
    total_gain: float
    days_gain: float
    days_gain_base: float
    acquired_today: bool

    @property
    def total_gain_pct(self) -> float:
        """Total gain as a percentage of the absolute cost."""
        return _pct(self.total_gain, self.total_cost)

    @property
    def days_gain_pct(self) -> float:
        """Day's gain as a percentage of the value at the previous close (or purchase today)."""
        return _pct(self.days_gain, self.days_gain_base)


def value_lot(lot: Lot, snap: Snapshot, price: float | None = None) -> LotValue:
    """Price ``lot`` at ``snap`` (or at an explicit ``price``, e.g. the previous close)."""
    last = snap.last if price is None else price
    today = lot.acquired_at >= session_open(snap.session_day)
    reference = lot.price if today else snap.prev_close
    cost = lot.quantity * lot.price + lot.commission + lot.fees
    market_value = lot.quantity * last
    return LotValue(
        lot=lot,
        market_value=round(market_value, 4),
        total_cost=round(cost, 4),
        total_gain=round(market_value - cost, 4),
        days_gain=round(lot.quantity * (last - reference), 4),
        days_gain_base=abs(lot.quantity * reference),
        acquired_today=today,
    )


@dataclass(frozen=True)
class PositionValue:
    """A position priced at a snapshot."""

    position: Position
    snap: Snapshot
    lots: tuple[LotValue, ...]

    @property
    def market_value(self) -> float:
        """Signed market value."""
        return round(sum(lot.market_value for lot in self.lots), 4)

    @property
    def total_cost(self) -> float:
        """Signed cost basis including commissions and fees."""
        return round(sum(lot.total_cost for lot in self.lots), 4)

    @property
    def total_gain(self) -> float:
        """Market value minus cost basis."""
        return round(self.market_value - self.total_cost, 4)

    @property
    def total_gain_pct(self) -> float:
        """Total gain as a percentage of the absolute cost."""
        return _pct(self.total_gain, self.total_cost)

    @property
    def days_gain(self) -> float:
        """Today's gain or loss."""
        return round(sum(lot.days_gain for lot in self.lots), 4)

    @property
    def days_gain_pct(self) -> float:
        """Day's gain as a percentage of the value it started the day at."""
        return _pct(self.days_gain, sum(lot.days_gain_base for lot in self.lots))

    @property
    def cost_per_share(self) -> float:
        """Price paid plus commissions and fees per share."""
        qty = abs(self.position.quantity)
        return round(abs(self.total_cost) / qty, 4) if qty else 0.0

    def today(self) -> tuple[float, float, float, float]:
        """(quantity, weighted price, commissions, fees) of lots acquired in today's session."""
        lots = [value.lot for value in self.lots if value.acquired_today]
        qty = sum(lot.quantity for lot in lots)
        price = sum(lot.price * lot.quantity for lot in lots) / qty if qty else 0.0
        return qty, round(price, 4), sum(lot.commission for lot in lots), sum(lot.fees for lot in lots)


def value_position(position: Position, snap: Snapshot, price: float | None = None) -> PositionValue:
    """Price every lot of ``position``."""
    return PositionValue(position, snap, tuple(value_lot(lot, snap, price) for lot in position.lots))


@dataclass(frozen=True)
class AccountValue:
    """An account's positions priced at the current quotes, and its aggregate values."""

    account: Account
    positions: tuple[PositionValue, ...]

    @property
    def long_value(self) -> float:
        """Market value of long positions."""
        return round(sum(p.market_value for p in self.positions if p.market_value > 0), 2)

    @property
    def short_value(self) -> float:
        """Market value of short positions (negative)."""
        return round(sum(p.market_value for p in self.positions if p.market_value < 0), 2)

    @property
    def net_value(self) -> float:
        """Long plus short market value."""
        return round(self.long_value + self.short_value, 2)

    @property
    def total_value(self) -> float:
        """Cash plus net market value: E*TRADE's totalAccountValue."""
        return round(self.account.cash + self.net_value, 2)


def value_account(account: Account, snaps: Mapping[str, Snapshot], at_previous_close: bool = False) -> AccountValue:
    """Value ``account`` with ``snaps`` (by symbol); optionally at the previous close."""
    values = tuple(
        value_position(
            position,
            snaps[position.symbol],
            snaps[position.symbol].prev_close if at_previous_close else None,
        )
        for position in account.positions.values()
    )
    return AccountValue(account, values)


@dataclass(frozen=True)
class BuyingPower:
    """What an account may spend, before open orders: E*TRADE's balance figures."""

    cash: float
    margin: float
    day_trade_margin: float


def buying_power(valued: AccountValue) -> BuyingPower:
    """Reg T for margin accounts (50 % initial margin: excess equity buys twice its value);
    cash and IRA accounts may spend their cash."""
    cash = valued.account.cash
    if valued.account.is_margin:
        gross = valued.long_value - valued.short_value
        excess = max(0.0, valued.total_value - 0.5 * gross)
        return BuyingPower(round(min(excess, max(cash, 0.0)), 2), round(2 * excess, 2), round(4 * excess, 2))
    return BuyingPower(round(max(cash, 0.0), 2), 0.0, 0.0)
