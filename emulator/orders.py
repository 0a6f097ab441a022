"""The Orders API's engine: preview, place, cancel, change and fills (reference §2.3, §3.5-3.9);
its HTTP side (routes and documents) is emulator/orders_api.py.

Rules the emulator enforces, as E*TRADE does:

- **Preview first.** ``place`` must carry the ``PreviewIds`` of an unused, unexpired preview of
  this account, the same ``clientOrderId`` and an identical order; anything else is 400/101
  "For your protection, we have timed out your original order request…". A preview can be placed
  once, so a place request that is repeated gets 101 rather than a second order.
- **Funds and shares.** A buy needs buying power (cash for cash accounts, Reg T margin buying
  power for margin accounts) net of open buy orders, else 400/1021 "insufficient funds" — at
  preview already (§5.7). A sell needs shares net of open sells (400/1037); a short sale needs a
  margin account; a buy to cover needs a short position.
- **Fills on the emulator clock** (:meth:`OrderEngine.sync`, run before every orders and accounts
  request): market orders fill at the next price (the ask for buys, the bid for sells, at the
  first observation after they were placed), limit orders when the market crosses the limit,
  stop orders once the last trade reaches the stop (stop-limits then behave as limits).
  Regular-session orders trade 09:30-16:00 ET, extended-session orders also pre-market and
  after hours. IMMEDIATE_OR_CANCEL and FILL_OR_KILL orders fill at once or are cancelled;
  GOOD_FOR_DAY orders expire at the end of their session. Fills move cash and positions through
  ``Book.apply_fill``. No partial fills.
- **Cancel** (PUT) answers code 4186; the order shows CANCEL_REQUESTED, then CANCELLED one second
  later (emulator clock). Only OPEN orders can be cancelled (else 400/5001).
- **Change** = cancel and replace: ``change/preview`` then ``change/place`` cancel the old order
  (``replacedByOrderId``) and open a new one (``replacesOrderId``).

State lives behind ``book.lock`` (book → market lock order, as everywhere in the emulator).
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from emulator import errors, universe
from emulator.book import Account, Book
from emulator.clock import EASTERN, Clock
from emulator.errors import ApiError
from emulator.market import (
    AFTER_HOURS_CLOSE,
    Market,
    Phase,
    Snapshot,
    is_trading_day,
    session_close,
    session_open,
)
from emulator.order_requests import (
    ON_CLOSE,
    ON_OPEN,
    TRAILING_STOPS,
    OrderRequest,
    OrderSpec,
)
from emulator.valuation import buying_power, value_account

#: How long a previewId can be placed. E*TRADE does not document it (§7); 30 minutes here.
PREVIEW_LIFETIME = timedelta(minutes=30)
#: A cancel request is acknowledged at once and completes this much later (emulator clock).
CANCEL_DELAY = timedelta(seconds=1)
#: List Orders without fromDate/toDate answers only this recent window (§2.3, §5.14).
DEFAULT_LIST_WINDOW = timedelta(days=30)
HISTORY = timedelta(days=2 * 365)
DEFAULT_COUNT = 25
MAX_COUNT = 100
STATUSES = ("OPEN", "EXECUTED", "CANCELLED", "INDIVIDUAL_FILLS", "CANCEL_REQUESTED", "EXPIRED", "REJECTED")
#: Per-trade commission for online US equity orders (E*TRADE charges $0; a 2025 capture shows 0).
COMMISSION = Decimal(0)

PLACED_IN_HOURS = (1026, "200|Your order was successfully entered during market hours.")
PLACED_OUT_OF_HOURS = (1027, "200|Your order was successfully entered outside market hours.")
NEXT_SESSION = (1069, "200|This order will be entered for the next market session.")
CANCEL_ACCEPTED = (
    4186,
    "200|Your request to cancel your order is being processed. Please go to View open orders to verify "
    "that your order has been successfully cancelled. If you cancel request is rejected, your order will "
    "remain open.",
)


class Status(enum.StrEnum):
    """Order statuses the engine produces."""

    OPEN = "OPEN"
    EXECUTED = "EXECUTED"
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"


@dataclass
class Preview:
    """A preview that may be placed once."""

    preview_id: int
    account_key: str
    request: OrderRequest
    created_at: datetime
    #: The order a change preview would replace.
    change_of: int | None = None
    used: bool = False


@dataclass
class EmuOrder:
    """One order in the book of orders."""

    order_id: int
    account_key: str
    client_order_id: str
    spec: OrderSpec
    placed_at: datetime
    status: Status = Status.OPEN
    expires_at: datetime | None = None
    executed_at: datetime | None = None
    filled_quantity: Decimal = Decimal(0)
    average_price: float | None = None
    stop_triggered: bool = False
    #: A trailing stop's best price since it was placed (highest for sells, lowest for buys).
    trail_mark: float | None = None
    cancel_requested_at: datetime | None = None
    closed_at: datetime | None = None
    replaces_order_id: int | None = None
    replaced_by_order_id: int | None = None
    commission: Decimal = COMMISSION
    estimated_price: float = 0.0
    preview_id: int = 0

    @property
    def is_open(self) -> bool:
        """Still working (may fill or be cancelled)."""
        return self.status is Status.OPEN

    def describe(self) -> dict[str, object]:
        """Admin view (not an E*TRADE shape)."""
        spec = self.spec
        return {
            "orderId": self.order_id,
            "accountIdKey": self.account_key,
            "clientOrderId": self.client_order_id,
            "previewId": self.preview_id,
            "symbol": spec.symbol,
            "orderAction": spec.action,
            "quantity": float(spec.quantity),
            "priceType": spec.price_type,
            "limitPrice": float(spec.limit_price) if spec.limit_price is not None else None,
            "stopPrice": float(spec.stop_price) if spec.stop_price is not None else None,
            "orderTerm": spec.order_term,
            "marketSession": spec.market_session,
            "status": self.status.value,
            "placedAt": self.placed_at.isoformat(),
            "executedAt": self.executed_at.isoformat() if self.executed_at else None,
            "averageExecutionPrice": self.average_price,
            "replacesOrderId": self.replaces_order_id,
            "replacedByOrderId": self.replaced_by_order_id,
        }


def option_level_code(option_level: str) -> int:
    """``optionLevelCd`` for a balance ``optionLevel``: the level's number (``LEVEL_3`` -> 3),
    0 for ``NO_OPTIONS``, following the order of E*TRADE's documented optionLevel values."""
    if option_level.startswith("LEVEL_") and option_level[6:].isdigit():
        return int(option_level[6:])
    return 0


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _money(value: float | Decimal) -> float:
    return round(float(value), 4)


def _quantity(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def session_end(placed: datetime, session: str) -> datetime:
    """When a GOOD_FOR_DAY order placed at ``placed`` expires: the end of its (next) session."""
    local = placed.astimezone(EASTERN)
    day = local.date()
    closing = AFTER_HOURS_CLOSE if session == "EXTENDED" else time(16, 0)
    while not is_trading_day(day) or (day == local.date() and local.time() >= closing):
        day += timedelta(days=1)
    if session == "EXTENDED":
        return datetime.combine(day, AFTER_HOURS_CLOSE, tzinfo=EASTERN)
    return session_close(day)


def _tradable(spec: OrderSpec, phase: Phase) -> bool:
    if phase is Phase.REGULAR:
        return True
    return spec.market_session == "EXTENDED" and phase in (Phase.PRE_MARKET, Phase.AFTER_HOURS)


class OrderEngine:
    """Previews, orders and their simulated execution for every account of the book."""

    def __init__(self, book: Book, market: Market, clock: Clock, seed: int = 0) -> None:
        self.book = book
        self.market = market
        self.clock = clock
        self._rng = random.Random(f"etrade-emulator:{seed}:orders")
        self._previews: dict[int, Preview] = {}
        self._orders: dict[int, EmuOrder] = {}
        self._next_order_id = 100 + self._rng.randint(0, 800)

    # -- queries ---------------------------------------------------------------------------
    def orders(self, account_key: str | None = None) -> list[EmuOrder]:
        """Orders (of one account, or all), newest first."""
        with self.book.lock:
            found = [o for o in self._orders.values() if account_key is None or o.account_key == account_key]
        return sorted(found, key=lambda o: o.order_id, reverse=True)

    def order(self, account_key: str, order_id: int) -> EmuOrder:
        """One order of the account, or 400/9002."""
        with self.book.lock:
            found = self._orders.get(order_id)
        if found is None or found.account_key != account_key:
            raise ApiError.bad_request(errors.ORDER_NOT_FOUND)
        return found

    # -- simulation ------------------------------------------------------------------------
    def sync(self) -> None:
        """Advance every working order to the emulator's now: fills, expiries, cancellations."""
        now = self.clock.now()
        with self.book.lock:
            for order in sorted(self._orders.values(), key=lambda o: o.order_id):
                if order.status is Status.CANCEL_REQUESTED:
                    assert order.cancel_requested_at is not None
                    if now >= order.cancel_requested_at + CANCEL_DELAY:
                        order.status = Status.CANCELLED
                        order.closed_at = order.cancel_requested_at + CANCEL_DELAY
                elif order.is_open:
                    # An on-close order fills at the close that is also its expiry.
                    if order.spec.price_type in ON_CLOSE and self._fill_on_close(order, now):
                        continue
                    if order.expires_at is not None and now >= order.expires_at:
                        order.status = Status.EXPIRED
                        order.closed_at = order.expires_at
                    elif now > order.placed_at:
                        self._try_fill(order, now)

    def _marketable_price(self, order: OrderSpec, snap: Snapshot, triggered: bool) -> float | None:
        """The price ``order`` would fill at against ``snap`` now, or None."""
        price = snap.ask if order.is_buy else snap.bid
        if price <= 0:
            return None
        if order.price_type in ("STOP", "STOP_LIMIT") and not triggered:
            return None
        if order.price_type in ("LIMIT", "STOP_LIMIT"):
            assert order.limit_price is not None
            limit = float(order.limit_price)
            if (order.is_buy and price > limit) or (not order.is_buy and price < limit):
                return None
        return price

    def _stop_reached(self, order: OrderSpec, snap: Snapshot) -> bool:
        if order.stop_price is None:
            return False
        stop = float(order.stop_price)
        return snap.last >= stop if order.is_buy else snap.last <= stop

    def _trail_reached(self, order: EmuOrder, snap: Snapshot) -> bool:
        """Move a trailing stop's mark with the price; True once the price came back by the trail."""
        spec, last = order.spec, snap.last
        assert spec.stop_price is not None
        mark = order.trail_mark
        mark = last if mark is None else (min(mark, last) if spec.is_buy else max(mark, last))
        order.trail_mark = mark
        trail = float(spec.stop_price)
        if spec.price_type == "TRAILING_STOP_PRCT":
            trigger = mark * (1 + trail / 100) if spec.is_buy else mark * (1 - trail / 100)
        else:
            trigger = mark + trail if spec.is_buy else mark - trail
        return last >= trigger if spec.is_buy else last <= trigger

    def _fill_on_close(self, order: EmuOrder, now: datetime) -> bool:
        """Fill a MARKET/LIMIT_ON_CLOSE order at the first close after it was placed."""
        close_at = session_end(order.placed_at, "REGULAR")
        if now < close_at:
            return False
        snap = self.market.observe(order.spec.symbol, close_at)
        price = snap.last
        limit = order.spec.limit_price
        if limit is not None and (
            (order.spec.is_buy and price > float(limit)) or (not order.spec.is_buy and price < float(limit))
        ):
            return False
        self._execute(order, price, close_at)
        return True

    def _try_fill(self, order: EmuOrder, now: datetime) -> bool:
        snap = self.market.observe(order.spec.symbol, now)
        if not _tradable(order.spec, snap.phase):
            return False
        price_type = order.spec.price_type
        if price_type in ON_CLOSE:
            return False
        if price_type in ON_OPEN:
            # Only the opening auction of a session that opened after the order was placed.
            if session_open(snap.session_day) <= order.placed_at:
                return False
            limit = order.spec.limit_price
            if limit is not None and (
                (order.spec.is_buy and snap.open > float(limit)) or (not order.spec.is_buy and snap.open < float(limit))
            ):
                return False
            self._execute(order, snap.open, now)
            return True
        if price_type in TRAILING_STOPS and not order.stop_triggered:
            order.stop_triggered = self._trail_reached(order, snap)
            if not order.stop_triggered:
                return False
        if price_type in ("STOP", "STOP_LIMIT") and not order.stop_triggered:
            order.stop_triggered = self._stop_reached(order.spec, snap)
        price = self._marketable_price(order.spec, snap, order.stop_triggered)
        if price is None:
            return False
        self._execute(order, price, now)
        return True

    def _execute(self, order: EmuOrder, price: float, now: datetime) -> None:
        signed = float(order.spec.quantity) * (1 if order.spec.is_buy else -1)
        self.book.apply_fill(
            order.account_key, order.spec.symbol, signed, price, now, float(order.commission), order_no=order.order_id
        )
        order.status = Status.EXECUTED
        order.executed_at = now
        order.closed_at = now
        order.filled_quantity = order.spec.quantity
        order.average_price = price

    # -- checks ----------------------------------------------------------------------------
    def price_basis(self, spec: OrderSpec, snap: Snapshot) -> float:
        """The per-share price an order's value is estimated at."""
        if spec.limit_price is not None:
            return float(spec.limit_price)
        if spec.stop_price is not None and spec.price_type not in TRAILING_STOPS:
            return float(spec.stop_price)
        return snap.ask if spec.is_buy else snap.bid

    def _reserved(self, account: Account, *, exclude: int | None) -> tuple[float, dict[tuple[str, str], Decimal]]:
        """Value held by open buy-side orders and short sales, and shares held by open orders."""
        value = 0.0
        shares: dict[tuple[str, str], Decimal] = {}
        for order in self._orders.values():
            if order.account_key != account.account_id_key or not order.is_open or order.order_id == exclude:
                continue
            if order.spec.action in ("BUY", "BUY_TO_COVER", "SELL_SHORT"):
                value += float(order.spec.quantity) * order.estimated_price
            key = (order.spec.symbol, order.spec.action)
            shares[key] = shares.get(key, Decimal(0)) + order.spec.quantity
        return value, shares

    def available(self, account: Account, *, exclude: int | None = None) -> float:
        """Buying power left for a new order: the balance's figure minus open orders."""
        now = self.clock.now()
        snaps = {s: self.market.observe(s, now) for s in {p.symbol for p in account.positions.values()}}
        power = buying_power(value_account(account, snaps))
        reserved, _ = self._reserved(account, exclude=exclude)
        base = power.margin if account.is_margin else power.cash
        return round(base - reserved, 2)

    def _check(self, account: Account, spec: OrderSpec, value: float, *, exclude: int | None) -> float:
        """E*TRADE's business checks for a new order; returns the buying power available."""
        if not account.is_open:
            raise ApiError(400, errors.INVALID_ORDER, "The account is closed.")
        available = self.available(account, exclude=exclude)
        _, held = self._reserved(account, exclude=exclude)
        position = account.position_for(spec.symbol)
        quantity = Decimal(str(position.quantity)) if position is not None else Decimal(0)
        if spec.action == "SELL":
            free = quantity - held.get((spec.symbol, "SELL"), Decimal(0))
            if free < spec.quantity:
                raise ApiError.bad_request(errors.NOT_ENOUGH_SHARES)
        elif spec.action == "BUY_TO_COVER":
            free = -quantity - held.get((spec.symbol, "BUY_TO_COVER"), Decimal(0))
            if free < spec.quantity:
                raise ApiError.bad_request(errors.NO_SHORT_POSITION)
        elif spec.action == "SELL_SHORT":
            if not account.is_margin:
                raise ApiError.bad_request(errors.SHORT_NOT_ALLOWED)
            if quantity > 0:
                raise ApiError(400, errors.INVALID_ORDER, "Sell the shares you hold before selling short.")
        if spec.action in ("BUY", "BUY_TO_COVER", "SELL_SHORT") and value + float(COMMISSION) > available:
            raise ApiError.bad_request(errors.INSUFFICIENT_FUNDS)
        return available

    def _snapshot(self, spec: OrderSpec) -> Snapshot:
        instrument = universe.get(spec.symbol)
        if instrument is None or instrument.is_mutual_fund:
            raise ApiError.bad_request(errors.ORDER_INVALID_SYMBOL)
        return self.market.observe(spec.symbol, self.clock.now())

    # -- preview / place / cancel ------------------------------------------------------------
    def preview(self, account: Account, request: OrderRequest, change_of: int | None = None) -> tuple[Preview, float]:
        """Validate and remember a preview; returns it and the buying power it was checked against."""
        snap = self._snapshot(request.spec)
        with self.book.lock:
            if change_of is not None:
                self._changeable(account, change_of, request.spec)
            value = float(request.spec.quantity) * self.price_basis(request.spec, snap)
            available = self._check(account, request.spec, value, exclude=change_of)
            now = self.clock.now()
            # Previews that can no longer be placed are forgotten (a long-running emulator stays small).
            self._previews = {
                pid: p for pid, p in self._previews.items() if not p.used and now <= p.created_at + PREVIEW_LIFETIME
            }
            preview = Preview(self._rng.randint(10**10, 10**12 - 1), account.account_id_key, request, now, change_of)
            self._previews[preview.preview_id] = preview
            return preview, available

    def _changeable(self, account: Account, order_id: int, spec: OrderSpec) -> EmuOrder:
        old = self.order(account.account_id_key, order_id)
        if not old.is_open:
            raise ApiError.bad_request(errors.CANNOT_CANCEL)
        if (old.spec.symbol, old.spec.action) != (spec.symbol, spec.action):
            raise ApiError(400, errors.INVALID_ORDER, "A change keeps the order's symbol and action.")
        return old

    def place(self, account: Account, request: OrderRequest, change_of: int | None = None) -> EmuOrder:
        """Place a previewed order (or a previewed change); 400/101 unless it matches its preview."""
        now = self.clock.now()
        with self.book.lock:
            previews = [self._previews.get(pid) for pid in request.preview_ids]
            preview = previews[0] if previews else None
            if (
                preview is None
                or any(p is None or p.used or p.account_key != account.account_id_key for p in previews)
                or now > preview.created_at + PREVIEW_LIFETIME
                or preview.change_of != change_of
                or preview.request.client_order_id != request.client_order_id
                or preview.request.spec != request.spec
                or any(
                    o.client_order_id == request.client_order_id and o.account_key == account.account_id_key
                    for o in self._orders.values()
                )
            ):
                raise ApiError.bad_request(errors.ORDER_TIMED_OUT)
            old = self._changeable(account, change_of, request.spec) if change_of is not None else None
            snap = self._snapshot(request.spec)
            price = self.price_basis(request.spec, snap)
            self._check(account, request.spec, float(request.spec.quantity) * price, exclude=change_of)
            preview.used = True
            order = EmuOrder(
                order_id=self._next_order_id,
                account_key=account.account_id_key,
                client_order_id=request.client_order_id,
                spec=request.spec,
                placed_at=now,
                estimated_price=price,
                preview_id=preview.preview_id,
            )
            self._next_order_id += 1
            if request.spec.order_term == "GOOD_FOR_DAY":
                order.expires_at = session_end(now, request.spec.market_session)
            if old is not None:
                old.status = Status.CANCELLED
                old.closed_at = now
                old.replaced_by_order_id = order.order_id
                order.replaces_order_id = old.order_id
            self._orders[order.order_id] = order
            if request.spec.order_term in ("IMMEDIATE_OR_CANCEL", "FILL_OR_KILL") and not self._try_fill(order, now):
                order.status = Status.CANCELLED
                order.closed_at = now
            return order

    def cancel(self, account: Account, order_id: int) -> EmuOrder:
        """Ask to cancel an open order: CANCEL_REQUESTED now, CANCELLED after CANCEL_DELAY."""
        with self.book.lock:
            order = self.order(account.account_id_key, order_id)
            if not order.is_open:
                raise ApiError.bad_request(errors.CANNOT_CANCEL)
            order.status = Status.CANCEL_REQUESTED
            order.cancel_requested_at = self.clock.now()
            return order


# -- rendering ---------------------------------------------------------------------------------


__all__ = ["EmuOrder", "OrderEngine", "Preview", "Status"]
