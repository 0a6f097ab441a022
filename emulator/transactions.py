"""The Transactions API: list and details (reference §2.1, §3.10), over a ledger consistent with the book.

The :class:`Ledger` holds every account's cash history:

- **Seeded** when the emulator starts (deterministic for the seed and the start instant): one
  ``Bought`` (``Sold Short`` for a short lot) per lot in the book, at the lot's price, commission and
  acquisition date; closed round trips (``Bought`` then ``Sold``) in symbols the account no longer
  holds, one of them sold at a loss 12 days before the start (a wash-sale window to reason about);
  quarterly ``Dividend``s for shares held on each ex-dividend date (long positions; pay date two
  weeks later); monthly ``Interest`` on the cash balance; a yearly ``Transfer`` in, and a yearly
  wire ``Transfer`` out with its ``Fee``. An opening ``Transfer`` makes the amounts add up to the
  account's cash: ``Σ amount == cash`` holds for every account and keeps holding.
- **Live**: every fill the order engine applies (``Book.apply_fill``) is recorded as it happens,
  as ``Bought``, ``Sold``, ``Sold Short`` or ``Bought To Cover`` with the order number.

List parameters: ``startDate``/``endDate`` MMDDYYYY (both or neither; neither = the last 30 days;
older than three years → 2003; bad format → 2004; one missing or end before start → the range
error), ``sortOrder`` ASC|DESC (default DESC, by date), ``count`` 1-50 (default 50, else 2005),
``marker`` from the previous page's ``marker`` (with ``pageMarker`` as well → 2008). Nothing in
range → 204. Details: ``/transactions/{id}`` (also ``/transactions.json/{id}``, the shape of
E*TRADE's own ``detailsURI``), an optional ``storeId``; capitalised ``Category`` and ``Brokerage``.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import parse_qsl, urlencode

from emulator import errors, universe
from emulator.book import Account, Book, Fill
from emulator.clock import EASTERN, Clock
from emulator.errors import ApiError
from emulator.market import Market, is_trading_day
from emulator.quotes import ex_dividend_date
from emulator.routing import Document, Request, Response, Route

DEFAULT_COUNT = 50
MAX_COUNT = 50
#: Without a date range the list covers this window (E*TRADE returns "about the last month").
DEFAULT_WINDOW = timedelta(days=30)
#: How far back a startDate may reach.
HISTORY_YEARS = 3
#: Days between an ex-dividend date and its payment.
DIVIDEND_PAY_LAG = timedelta(days=14)
#: Yearly interest rate paid on positive cash.
CASH_INTEREST_RATE = 0.005
WIRE_FEE = 25.0

BOUGHT, SOLD, SOLD_SHORT, BOUGHT_TO_COVER = "Bought", "Sold", "Sold Short", "Bought To Cover"
DIVIDEND, INTEREST, FEE, TRANSFER = "Dividend", "Interest", "Fee", "Transfer"
TRADE_TYPES = frozenset({BOUGHT, SOLD, SOLD_SHORT, BOUGHT_TO_COVER})

_MARKER = re.compile(r"(\d{14})_(\d+)")
_CATEGORIES = {
    BOUGHT: "Investments",
    SOLD: "Investments",
    SOLD_SHORT: "Investments",
    BOUGHT_TO_COVER: "Investments",
    DIVIDEND: "Income",
    INTEREST: "Income",
    FEE: "Fees & Charges",
    TRANSFER: "Transfers",
}


@dataclass(frozen=True)
class Transaction:
    """One entry of an account's history. ``amount`` is the signed cash effect."""

    transaction_id: str
    account_id_key: str
    at: datetime
    amount: float
    description: str
    transaction_type: str
    symbol: str = ""
    #: Signed shares: negative on sells.
    quantity: float = 0.0
    price: float = 0.0
    fee: float = 0.0
    settlement: datetime | None = None
    order_no: int | None = None


@dataclass
class _History:
    rows: list[Transaction] = field(default_factory=list)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 4)


def _eastern(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=EASTERN).astimezone(UTC)


def _business_day_on_or_after(day: date) -> date:
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day


def _settlement(at: datetime) -> datetime:
    """T+1 on the Eastern calendar."""
    day = _business_day_on_or_after(at.astimezone(EASTERN).date() + timedelta(days=1))
    return _eastern(day)


def _company(symbol: str) -> str:
    inst = universe.UNIVERSE.get(symbol)
    return inst.company_name.upper() if inst is not None else symbol


class Ledger:
    """Every account's transactions; seeded from the book, then fed by its fills."""

    def __init__(self, book: Book, market: Market, clock: Clock, seed: int = 0) -> None:
        self.book = book
        self.market = market
        self.clock = clock
        self._lock = threading.RLock()
        self._rng = random.Random(f"etrade-emulator:{seed}:transactions")
        self._sequence = self._rng.randint(100_000_000, 199_999_999)
        self._histories: dict[str, _History] = {}
        with book.lock:
            start = clock.now()
            for account in book.accounts():
                self._histories[account.account_id_key] = _History(self._seed_account(account, start))
            book.fill_listeners.append(self.record_fill)

    # -- ids ---------------------------------------------------------------------------
    def _new_id(self, at: datetime) -> str:
        """E*TRADE's shape: two-digit year, day of year, then a nine-digit sequence."""
        self._sequence += self._rng.randint(1, 5000)
        local = at.astimezone(EASTERN)
        return f"{local.year % 100:02d}{local.timetuple().tm_yday:03d}{self._sequence % 10**9:09d}"

    def _row(
        self,
        account: Account,
        at: datetime,
        amount: float,
        description: str,
        kind: str,
        *,
        symbol: str = "",
        quantity: float = 0.0,
        price: float = 0.0,
        fee: float = 0.0,
        settlement: datetime | None = None,
        order_no: int | None = None,
    ) -> Transaction:
        return Transaction(
            self._new_id(at),
            account.account_id_key,
            at,
            round(amount, 2),
            description,
            kind,
            symbol,
            quantity,
            price,
            fee,
            settlement,
            order_no,
        )

    # -- seeding -----------------------------------------------------------------------
    def _seed_account(self, account: Account, start: datetime) -> list[Transaction]:
        if not account.is_open:
            return []
        rng = self._rng
        rows: list[Transaction] = []
        holdings: list[tuple[str, float, datetime, datetime | None]] = []
        for position in account.positions.values():
            for lot in position.lots:
                at = lot.acquired_at + timedelta(hours=10, minutes=rng.randint(0, 300))
                qty = lot.original_quantity
                kind = SOLD_SHORT if qty < 0 else BOUGHT
                rows.append(self._trade(account, at, position.symbol, qty, lot.price, lot.commission + lot.fees, kind))
                holdings.append((position.symbol, qty, at, None))
        held = {p.symbol for p in account.positions.values()}
        candidates = [s for s in universe.tradable_symbols() if s not in held]
        start_day = start.astimezone(EASTERN).date()
        for index, symbol in enumerate(rng.sample(candidates, min(3, len(candidates)))):
            ref = self.market.reference_price(symbol)
            qty = float(max(1, round(rng.uniform(2_000, 6_000) / ref)))
            if index == 0:
                # A recent loss: sold 12 days before the start, 15 % under the purchase price.
                sold_day = start_day - timedelta(days=12)
                bought_day = sold_day - timedelta(days=rng.randint(60, 200))
                buy_price = round(ref * 1.05, 2)
                sell_price = round(buy_price * 0.85, 2)
            else:
                sold_day = start_day - timedelta(days=rng.randint(60, 700))
                bought_day = sold_day - timedelta(days=rng.randint(30, 400))
                buy_price = round(ref * rng.uniform(0.7, 1.0), 2)
                sell_price = round(buy_price * rng.uniform(0.9, 1.35), 2)
            bought_at = _eastern(_business_day_on_or_after(bought_day), 10, rng.randint(0, 59))
            sold_at = _eastern(_business_day_on_or_after(sold_day), 14, rng.randint(0, 59))
            if sold_at >= start:
                continue
            rows.append(self._trade(account, bought_at, symbol, qty, buy_price, 0.0, BOUGHT))
            rows.append(self._trade(account, sold_at, symbol, -qty, sell_price, 0.0, SOLD))
            holdings.append((symbol, qty, bought_at, sold_at))
        rows.extend(self._dividends(account, holdings, start))
        rows.extend(self._cash_movements(account, start))
        # The opening deposit makes the history add up to today's cash.
        first = min((row.at for row in rows), default=start - timedelta(days=1))
        opening_at = _eastern(first.astimezone(EASTERN).date() - timedelta(days=7), 9)
        opening = round(account.cash - sum(row.amount for row in rows), 2)
        if opening:
            description = "ACH DEPOSIT" if opening > 0 else "ACH WITHDRAWAL"
            rows.append(self._row(account, opening_at, opening, description, TRANSFER))
        return rows

    def _trade(
        self, account: Account, at: datetime, symbol: str, quantity: float, price: float, costs: float, kind: str
    ) -> Transaction:
        amount = -(quantity * price) - costs
        return self._row(
            account,
            at,
            amount,
            _company(symbol),
            kind,
            symbol=symbol,
            quantity=quantity,
            price=price,
            fee=round(costs, 2),
            settlement=_settlement(at),
        )

    def _dividends(
        self, account: Account, holdings: list[tuple[str, float, datetime, datetime | None]], start: datetime
    ) -> list[Transaction]:
        rows: list[Transaction] = []
        for symbol in sorted({h[0] for h in holdings}):
            inst = universe.UNIVERSE.get(symbol)
            if inst is None or inst.annual_dividend <= 0:
                continue
            per_share = round(inst.annual_dividend / 4, 4)
            earliest = min(h[2] for h in holdings if h[0] == symbol).astimezone(EASTERN).date()
            day = start.astimezone(EASTERN).date()
            while True:
                ex_day = ex_dividend_date(inst, day)
                if ex_day is None or ex_day < earliest:
                    break
                day = ex_day - timedelta(days=1)
                ex_at = _eastern(ex_day)
                shares = sum(
                    qty
                    for sym, qty, since, until in holdings
                    if sym == symbol and qty > 0 and since < ex_at and (until is None or until >= ex_at)
                )
                pay_at = _eastern(_business_day_on_or_after(ex_day + DIVIDEND_PAY_LAG))
                if shares <= 0 or pay_at >= start:
                    continue
                rows.append(
                    self._row(
                        account,
                        pay_at,
                        shares * per_share,
                        f"{_company(symbol)} CASH DIV ON {_number(shares)} SHS",
                        DIVIDEND,
                        symbol=symbol,
                        quantity=0.0,
                        price=per_share,
                    )
                )
        return rows

    def _cash_movements(self, account: Account, start: datetime) -> list[Transaction]:
        rows: list[Transaction] = []
        start_day = start.astimezone(EASTERN).date()
        monthly = round(max(account.cash, 0.0) * CASH_INTEREST_RATE / 12, 2)
        month = date(start_day.year, start_day.month, 1)
        for _ in range(HISTORY_YEARS * 12):
            month = (month - timedelta(days=1)).replace(day=1)
            if monthly > 0:
                paid = _eastern(_business_day_on_or_after(month + timedelta(days=27)))
                if paid < start:
                    rows.append(self._row(account, paid, monthly, "INTEREST ON CREDIT BALANCE", INTEREST))
        for years_back in range(HISTORY_YEARS):
            year = start_day.year - years_back
            deposit = _eastern(_business_day_on_or_after(date(year, 1, 15)), 9)
            if deposit < start:
                rows.append(self._row(account, deposit, 2_000.0, "ACH DEPOSIT", TRANSFER))
            wire = _eastern(_business_day_on_or_after(date(year, 7, 10)), 11)
            if wire < start:
                rows.append(self._row(account, wire, -500.0, "WIRE TRANSFER OUT", TRANSFER))
                rows.append(self._row(account, wire, -WIRE_FEE, "WIRE TRANSFER FEE", FEE, fee=WIRE_FEE))
        return rows

    # -- live --------------------------------------------------------------------------
    def record_fill(self, fill: Fill) -> None:
        """Record an execution (called by the book under its lock)."""
        account = self.book.account(fill.account_id_key)
        if account is None:
            return
        if fill.quantity > 0:
            kind = BOUGHT_TO_COVER if fill.prior_quantity < 0 else BOUGHT
        else:
            kind = SOLD if fill.prior_quantity > 0 else SOLD_SHORT
        amount = -(fill.quantity * fill.price) - fill.commission - fill.fees
        row = self._row(
            account,
            fill.at,
            amount,
            _company(fill.symbol),
            kind,
            symbol=fill.symbol,
            quantity=fill.quantity,
            price=fill.price,
            fee=round(fill.commission + fill.fees, 2),
            settlement=_settlement(fill.at),
            order_no=fill.order_no,
        )
        with self._lock:
            self._histories.setdefault(fill.account_id_key, _History()).rows.append(row)

    # -- queries -----------------------------------------------------------------------
    def transactions(self, account_id_key: str) -> list[Transaction]:
        """The account's history, oldest first (ties by id)."""
        with self._lock:
            rows = list(self._histories.get(account_id_key, _History()).rows)
        return sorted(rows, key=lambda row: (row.at, row.transaction_id))

    def find(self, account_id_key: str, transaction_id: str) -> Transaction | None:
        """One transaction of the account, if any."""
        return next((row for row in self.transactions(account_id_key) if row.transaction_id == transaction_id), None)


class TransactionsApi:
    """Handlers for List Transactions and Transaction Details (rate-limit module ``accounts``)."""

    def __init__(self, ledger: Ledger, resolve: Callable[[Request], Account]) -> None:
        self.ledger = ledger
        self.resolve = resolve

    def routes(self) -> list[Route]:
        """This module's routes."""
        base = "/v1/accounts/{accountIdKey}/transactions"
        return [
            Route("transactions_list", base, self.list_transactions, module="accounts"),
            Route("transaction_details", f"{base}/{{transactionId:int}}", self.details, module="accounts"),
        ]

    def _window(self, request: Request) -> tuple[datetime, datetime]:
        raw_start, raw_end = request.param("startDate"), request.param("endDate")
        now = self.ledger.clock.now()
        if not raw_start and not raw_end:
            # Up to the end of today: a fill at the (possibly frozen) emulator instant is included.
            return now - DEFAULT_WINDOW, now + timedelta(days=1)
        days: list[date] = []
        for raw in (raw_start, raw_end):
            if not raw:
                continue
            try:
                if not re.fullmatch(r"\d{8}", raw):
                    raise ValueError(raw)
                days.append(datetime.strptime(raw, "%m%d%Y").date())
            except ValueError as exc:
                raise ApiError.bad_request(errors.TXN_INVALID_DATE_FORMAT) from exc
        today = now.astimezone(EASTERN).date()
        oldest = today - timedelta(days=365 * HISTORY_YEARS + 1)
        if any(day < oldest for day in days):
            raise ApiError.bad_request(errors.TXN_INVALID_DATE)
        if len(days) != 2 or days[1] < days[0]:
            raise ApiError.bad_request(errors.TXN_INVALID_DATE_RANGE)
        return _eastern(days[0]), _eastern(days[1] + timedelta(days=1))

    def list_transactions(self, request: Request) -> Document | Response:
        """``GET /v1/accounts/{accountIdKey}/transactions``."""
        account = self.resolve(request)
        count_raw = request.param("count")
        count = DEFAULT_COUNT
        if count_raw not in (None, ""):
            if not count_raw.isdigit() or not 1 <= int(count_raw) <= MAX_COUNT:
                raise ApiError.bad_request(errors.TXN_INVALID_COUNT)
            count = int(count_raw)
        order = (request.param("sortOrder") or "DESC").upper()
        if order not in ("ASC", "DESC"):
            raise ApiError.bad_request(errors.TXN_INVALID_SORT_ORDER)
        marker = request.param("marker")
        if marker and request.param("pageMarker"):
            raise ApiError.bad_request(errors.TXN_INVALID_MARKER)
        start, end = self._window(request)
        rows = [row for row in self.ledger.transactions(account.account_id_key) if start <= row.at < end]
        if order == "DESC":
            rows.reverse()
        if marker:
            found = _MARKER.fullmatch(marker)
            index = next((i for i, row in enumerate(rows) if found and row.transaction_id == found.group(1)), None)
            if index is None:
                raise ApiError.invalid_parameter("marker")
            total = len(rows)
            rows = rows[index:]
        else:
            total = len(rows)
        if not rows:
            return Response.no_content()
        page, rest = rows[:count], rows[count:]
        content: dict[str, object] = {}
        if rest:
            nxt = rest[0]
            next_marker = f"{nxt.transaction_id}_{int(nxt.at.timestamp())}"
            pairs = [(k, v) for k, v in parse_qsl(request.raw_query, keep_blank_values=True) if k.lower() != "marker"]
            base = f"{request.base_url}/v1/accounts/{account.account_id_key}/transactions{request.json_suffix}"
            content["next"] = f"{base}?{urlencode([*pairs, ('marker', next_marker)])}"
            content["marker"] = next_marker
        content["moreTransactions"] = bool(rest)
        content["transactionCount"] = len(page)
        content["totalCount"] = total
        content["Transaction"] = [self._list_row(request, account, row) for row in page]
        return Document("TransactionListResponse", content)

    def details(self, request: Request) -> Document:
        """``GET /v1/accounts/{accountIdKey}/transactions/{transactionId}[?storeId=0]``."""
        account = self.resolve(request)
        store = request.param("storeId")
        if store not in (None, "") and not store.isdigit():
            raise ApiError.invalid_parameter("storeId")
        row = self.ledger.find(account.account_id_key, request.params["transactionId"])
        if row is None:
            raise ApiError.bad_request(errors.TXN_NOT_FOUND)
        category = _CATEGORIES[row.transaction_type]
        brokerage: dict[str, object] = {"transactionType": row.transaction_type}
        if row.symbol:
            brokerage["Product"] = {"symbol": row.symbol, "securityType": "EQ"}
        brokerage.update(
            quantity=_number(row.quantity),
            price=_number(row.price),
            settlementCurrency="USD",
            paymentCurrency="USD",
            fee=_number(row.fee),
            memo="",
            checkNo="",
            orderNo=str(row.order_no) if row.order_no is not None else "",
        )
        return Document(
            "TransactionDetailsResponse",
            {
                "transactionId": row.transaction_id,
                "accountId": account.account_id,
                "transactionDate": _ms(row.at),
                "postDate": _ms(row.settlement or row.at),
                "amount": row.amount,
                "description": row.description,
                "Category": {"categoryId": "0", "parentId": "0", "categoryName": category, "parentName": "Brokerage"},
                "Brokerage": brokerage,
            },
        )

    @staticmethod
    def _list_row(request: Request, account: Account, row: Transaction) -> dict[str, object]:
        brokerage: dict[str, object] = {}
        if row.symbol:
            brokerage["product"] = {"symbol": row.symbol, "securityType": "EQ"}
        brokerage.update(
            quantity=_number(row.quantity),
            price=_number(row.price),
            settlementCurrency="USD",
            paymentCurrency="USD",
            fee=_number(row.fee),
            displaySymbol=row.symbol or " ",
            settlementDate=_ms(row.settlement) if row.settlement else 0,
        )
        base = f"{request.base_url}/v1/accounts/{account.account_id_key}/transactions{request.json_suffix}"
        return {
            "transactionId": row.transaction_id,
            "accountId": account.account_id,
            "transactionDate": _ms(row.at),
            "postDate": _ms(row.settlement or row.at),
            "amount": row.amount,
            "description": row.description,
            "transactionType": row.transaction_type,
            "memo": "",
            "imageFlag": False,
            "instType": account.institution_type,
            "storeId": 0,
            "brokerage": brokerage,
            # E*TRADE's own detailsURI puts .json right after the collection.
            "detailsURI": f"{base}/{row.transaction_id}?storeId=0",
        }
