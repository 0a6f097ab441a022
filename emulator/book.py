"""The brokerage book: accounts with cash and positions made of lots, behind one lock.

This is the state order simulation will mutate later: :meth:`Book.apply_fill` is the single
primitive that moves cash and shares (FIFO lot relief, opening and covering shorts), so an
order engine only decides *whether* and *at what price* something fills.

The seeded book mirrors the sandbox's set of four accounts: an individual margin brokerage
account, a cash brokerage account, an IRA and one CLOSED account with a ``closedDate``. Open
accounts hold 5-12 positions; the margin account holds one short and at least one position
made of several lots. Everything is deterministic for a given seed: lot prices are drawn
relative to each symbol's seeded reference price, acquisition dates from a fixed window.
"""

from __future__ import annotations

import random
import string
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from emulator import universe
from emulator.clock import EASTERN
from emulator.market import Market

_KEY_ALPHABET = string.ascii_letters + string.digits + "_-"
#: Seeded lots were acquired in this window (fixed, so the book depends only on the seed).
_ACQUIRED_FROM = date(2020, 1, 2)
_ACQUIRED_UNTIL = date(2025, 12, 31)


@dataclass
class Lot:
    """Shares bought (or sold short) together at one price. ``quantity`` is signed."""

    lot_id: int
    quantity: float
    price: float
    acquired_at: datetime
    commission: float = 0.0
    fees: float = 0.0
    original_quantity: float = 0.0

    def __post_init__(self) -> None:
        if not self.original_quantity:
            self.original_quantity = self.quantity


@dataclass
class Position:
    """All lots of one symbol in one account, all long or all short."""

    position_id: int
    symbol: str
    lots: list[Lot] = field(default_factory=list)

    @property
    def quantity(self) -> float:
        """Signed share count; negative for a short position."""
        return sum(lot.quantity for lot in self.lots)

    @property
    def is_short(self) -> bool:
        """True for a short position."""
        return self.quantity < 0

    @property
    def price_paid(self) -> float:
        """Quantity-weighted average lot price."""
        qty = self.quantity
        return sum(lot.price * lot.quantity for lot in self.lots) / qty if qty else 0.0

    @property
    def commissions(self) -> float:
        """Commissions of the remaining lots."""
        return sum(lot.commission for lot in self.lots)

    @property
    def fees(self) -> float:
        """Other fees of the remaining lots."""
        return sum(lot.fees for lot in self.lots)

    @property
    def cost_basis(self) -> float:
        """Signed cost: quantity x price paid plus commissions and fees (negative proceeds for shorts)."""
        return sum(lot.price * lot.quantity for lot in self.lots) + self.commissions + self.fees

    @property
    def acquired_at(self) -> datetime:
        """Date of the oldest lot."""
        return min(lot.acquired_at for lot in self.lots)


@dataclass
class Account:
    """One brokerage account as E*TRADE's List Accounts describes it, plus its state."""

    account_id: str
    account_id_key: str
    account_mode: str
    account_desc: str
    account_name: str
    account_type: str
    institution_type: str
    account_status: str
    closed_date: int
    option_level: str
    cash: float
    positions: dict[int, Position] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        """ACTIVE (not CLOSED)."""
        return self.account_status == "ACTIVE"

    @property
    def is_margin(self) -> bool:
        """Margin account (may borrow and sell short)."""
        return self.account_mode == "MARGIN"

    def position_for(self, symbol: str) -> Position | None:
        """The position in ``symbol``, if any."""
        return next((p for p in self.positions.values() if p.symbol == symbol), None)


@dataclass(frozen=True)
class Fill:
    """One execution as :meth:`Book.apply_fill` applied it (what a transaction history records)."""

    account_id_key: str
    symbol: str
    #: Signed: > 0 bought, < 0 sold.
    quantity: float
    price: float
    at: datetime
    commission: float
    fees: float
    #: The position's signed quantity before the fill (tells a cover from a buy, a short from a sell).
    prior_quantity: float
    order_no: int | None


class Book:
    """All accounts of the demo user. Hold :attr:`lock` across any read-modify-write."""

    def __init__(self, accounts: list[Account], seed: int = 0) -> None:
        self.lock = threading.RLock()
        self._accounts = {account.account_id_key: account for account in accounts}
        self._ids = random.Random(f"etrade-emulator:{seed}:book-ids")
        #: Called under :attr:`lock` after every fill, in fill order.
        self.fill_listeners: list[Callable[[Fill], None]] = []

    def accounts(self) -> list[Account]:
        """Accounts in List Accounts order."""
        with self.lock:
            return list(self._accounts.values())

    def __iter__(self) -> Iterator[Account]:
        return iter(self.accounts())

    def account(self, account_id_key: str) -> Account | None:
        """The account with this key, if the user owns it."""
        with self.lock:
            return self._accounts.get(account_id_key)

    def clear_positions(self, account_id_key: str) -> Account:
        """Remove every position (for an empty-portfolio scenario). KeyError if unknown."""
        with self.lock:
            account = self._accounts[account_id_key]
            account.positions.clear()
            return account

    def new_id(self, digits: int = 11) -> int:
        """A fresh numeric id (positions, lots; later orders)."""
        with self.lock:
            return self._ids.randint(10 ** (digits - 1), 10**digits - 1)

    def apply_fill(
        self,
        account_id_key: str,
        symbol: str,
        quantity: float,
        price: float,
        at: datetime,
        commission: float = 0.0,
        fees: float = 0.0,
        order_no: int | None = None,
    ) -> Position | None:
        """Apply an execution: ``quantity`` > 0 buys (covering shorts first), < 0 sells (then
        shorts). Lots are relieved first-in first-out; cash moves by the trade value plus
        costs. Returns the position afterwards, or None if it was closed out.
        """
        if quantity == 0:
            raise ValueError("a fill needs a non-zero quantity")
        symbol = symbol.upper()
        with self.lock:
            account = self._accounts[account_id_key]
            account.cash = round(account.cash - quantity * price - commission - fees, 2)
            position = account.position_for(symbol)
            prior = position.quantity if position is not None else 0.0
            fill = Fill(account_id_key, symbol, quantity, price, at, commission, fees, prior, order_no)
            remaining = quantity
            if position is not None and (position.quantity > 0) != (quantity > 0):
                # Opposite direction: relieve lots first-in first-out.
                to_relieve = abs(quantity)
                for lot in sorted(position.lots, key=lambda lot: lot.acquired_at):
                    take = min(abs(lot.quantity), to_relieve)
                    lot.quantity += take if lot.quantity < 0 else -take
                    to_relieve -= take
                    if to_relieve == 0:
                        break
                position.lots = [lot for lot in position.lots if lot.quantity != 0]
                if not position.lots:
                    del account.positions[position.position_id]
                    position = None
                remaining = to_relieve if quantity > 0 else -to_relieve
            if remaining != 0:
                lot = Lot(self.new_id(), remaining, price, at, commission, fees)
                if position is None:
                    position = Position(self.new_id(), symbol, [lot])
                    account.positions[position.position_id] = position
                else:
                    position.lots.append(lot)
            for listener in self.fill_listeners:
                listener(fill)
            return position


def _account_key(rng: random.Random) -> str:
    return "".join(rng.choice(_KEY_ALPHABET) for _ in range(22))


def _acquired(rng: random.Random) -> datetime:
    span = (_ACQUIRED_UNTIL - _ACQUIRED_FROM).days
    day = _ACQUIRED_FROM + timedelta(days=rng.randint(0, span))
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    # E*TRADE reports dateAcquired as midnight Eastern of the trade date.
    return datetime(day.year, day.month, day.day, tzinfo=EASTERN).astimezone(UTC)


def seed_book(seed: int, market: Market) -> Book:
    """The demo user's four accounts, deterministic for ``seed``."""
    rng = random.Random(f"etrade-emulator:{seed}:book")
    book_ids = random.Random(f"etrade-emulator:{seed}:seed-ids")
    symbols = universe.tradable_symbols()
    stocks = [s for s in symbols if not universe.UNIVERSE[s].is_etf]
    etfs = [s for s in symbols if universe.UNIVERSE[s].is_etf]

    def new_id() -> int:
        return book_ids.randint(10_000_000_000, 99_999_999_999)

    def make_position(symbol: str, lots: int, short: bool = False) -> Position:
        ref = market.reference_price(symbol)
        position = Position(new_id(), symbol)
        for _ in range(lots):
            value = rng.uniform(1_500, 15_000)
            qty = float(max(1, round(value / ref)))
            price = round(ref * (2.718281828 ** rng.gauss(-0.12 if not short else 0.05, 0.2)), 4)
            commission = rng.choice((0.0, 0.0, 0.0, 4.95, 6.95))
            position.lots.append(Lot(new_id(), -qty if short else qty, price, _acquired(rng), commission, 0.0))
        return position

    def fill(account: Account, picks: list[str], multi_lot: bool) -> None:
        for index, symbol in enumerate(picks):
            lots = rng.randint(2, 4) if (multi_lot and index == 0) or rng.random() < 0.25 else 1
            position = make_position(symbol, lots)
            account.positions[position.position_id] = position

    def account(mode: str, desc: str, name: str, acct_type: str, option_level: str, cash: float) -> Account:
        account_id = str(rng.randint(100_000_000, 999_999_999))
        return Account(
            account_id=account_id,
            account_id_key=_account_key(rng),
            account_mode=mode,
            account_desc=desc,
            account_name=name,
            account_type=acct_type,
            institution_type="BROKERAGE",
            account_status="ACTIVE",
            closed_date=0,
            option_level=option_level,
            cash=round(cash, 2),
        )

    margin = account("MARGIN", "INDIVIDUAL", "Brokerage", "INDIVIDUAL", "LEVEL_2", rng.uniform(15_000, 40_000))
    cash = account("CASH", "INDIVIDUAL", "Cash Account", "INDIVIDUAL", "LEVEL_1", rng.uniform(3_000, 12_000))
    ira = account("IRA", "ROTH IRA", "Retirement", "ROTHIRA", "LEVEL_1", rng.uniform(1_000, 6_000))
    closed = account("CASH", "INDIVIDUAL", "", "CASH", "NO_OPTIONS", 0.0)
    closed.account_status = "CLOSED"
    closed.closed_date = int(_acquired(rng).timestamp()) + 16 * 3600

    margin_picks = rng.sample(stocks, rng.randint(7, 10)) + rng.sample(etfs, 1)
    fill(margin, margin_picks, multi_lot=True)
    short_symbol = rng.choice([s for s in stocks if s not in margin_picks])
    short = make_position(short_symbol, 1, short=True)
    margin.positions[short.position_id] = short
    # The short's proceeds sit in the margin account's cash.
    margin.cash = round(margin.cash - short.cost_basis, 2)

    fill(cash, rng.sample(stocks, rng.randint(4, 7)) + rng.sample(etfs, 1), multi_lot=False)
    fill(ira, rng.sample(etfs, rng.randint(3, 5)) + rng.sample(stocks, 2), multi_lot=False)
    return Book([margin, cash, ira, closed], seed)
