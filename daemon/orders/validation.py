"""What an order must look like, and the static safety policy, checked before anything goes upstream.

Two layers:

- :func:`parse_order` turns the caller's strings into an :class:`OrderRequest` or raises
  :class:`InvalidRequest` naming the field (symbol format, whole-share quantity within bounds,
  prices as exact decimals with E*TRADE's ticks, the combinations E*TRADE accepts);
- :class:`OrderPolicy` applies the operator's limits: the read-only default, the allow- and
  block-lists, and — once the live quote is known — the price band and the order-value cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from broker_client.errors import ErrorCode, InvalidRequest, PolicyRefused
from broker_client.symbols import normalize_symbol
from daemon.accounts.accounts import check_account_key
from daemon.models import Quote
from daemon.orders.model import Action, MarketSession, OrderRequest, PriceType, Term, decimal_text, money_text

MAX_PRICE = Decimal(1_000_000)
CENT = Decimal("0.01")
SUB_DOLLAR_TICK = Decimal("0.0001")


@dataclass(frozen=True)
class OrderInput:
    """An order as a client sends it: strings, exactly as typed (prices never pass through float)."""

    account_id_key: str
    symbol: str
    action: str
    quantity: int
    price_type: str
    limit_price: str = ""
    stop_price: str = ""
    order_term: str = ""
    market_session: str = ""
    all_or_none: bool = False


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(ErrorCode.INVALID_ARGUMENT, message)


def _choice(raw: str, enum_type: type[Action] | type[PriceType] | type[Term] | type[MarketSession], name: str,
            default: str | None = None) -> str:  # fmt: skip
    value = (raw or "").strip().upper() or (default or "")
    allowed = [member.value for member in enum_type]
    if value not in allowed:
        shown = raw.strip()[:24] if raw else "(empty)"
        raise _invalid(f"{name} {shown!r} is not one of {', '.join(allowed)}")
    return value


def parse_price(raw: str, name: str) -> Decimal | None:
    """An exact price: positive, at most 1,000,000, whole cents at or above $1 (1/100 cent below)."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _invalid(f"{name} {text[:24]!r} is not a number; write it like 187.25") from None
    if not value.is_finite() or value <= 0:
        raise _invalid(f"{name} must be a positive price, not {text[:24]!r}")
    if value > MAX_PRICE:
        raise _invalid(f"{name} {text[:24]} is above {MAX_PRICE:,} per share")
    tick = CENT if value >= 1 else SUB_DOLLAR_TICK
    if value != value.quantize(tick):
        raise _invalid(f"{name} {text[:24]} has too many decimals: prices from $1 up move in whole cents")
    return value


def parse_order(raw: OrderInput, *, max_quantity: int, market_protection: bool = False) -> OrderRequest:
    """Validate everything that can be checked without asking anyone. Raises InvalidRequest.

    ``market_protection``: a MARKET order will be sent as a LIMIT order (see ``placement``), so the
    extended session's LIMIT-only rule is checked on what is sent, after that conversion.
    """
    key = check_account_key(raw.account_id_key)
    symbol = normalize_symbol(raw.symbol)
    action = Action(_choice(raw.action, Action, "order_action"))
    if isinstance(raw.quantity, bool) or not isinstance(raw.quantity, int) or raw.quantity < 1:
        raise _invalid("quantity must be a whole number of shares, at least 1")
    if raw.quantity > max_quantity:
        raise _invalid(
            f"quantity {raw.quantity:,} is above the limit of {max_quantity:,} shares per order "
            "(ETRADE_MAX_ORDER_QUANTITY)"
        )
    price_type = PriceType(_choice(raw.price_type, PriceType, "price_type"))
    limit_price = parse_price(raw.limit_price, "limit_price")
    stop_price = parse_price(raw.stop_price, "stop_price")
    if price_type.needs_limit and limit_price is None:
        raise _invalid(f"a {price_type.value} order needs a limit_price")
    if price_type.needs_stop and stop_price is None:
        raise _invalid(f"a {price_type.value} order needs a stop_price")
    if not price_type.needs_limit and limit_price is not None:
        raise _invalid(f"a {price_type.value} order takes no limit_price; use LIMIT or STOP_LIMIT")
    if not price_type.needs_stop and stop_price is not None:
        raise _invalid(f"a {price_type.value} order takes no stop_price; use STOP or STOP_LIMIT")
    term = Term(_choice(raw.order_term, Term, "order_term", Term.GOOD_FOR_DAY.value))
    session = MarketSession(_choice(raw.market_session, MarketSession, "market_session", MarketSession.REGULAR))
    if term in (Term.IMMEDIATE_OR_CANCEL, Term.FILL_OR_KILL) and price_type is not PriceType.LIMIT:
        raise _invalid(f"{term.value} is available for LIMIT orders only")
    sent_as_limit = price_type is PriceType.LIMIT or (market_protection and price_type is PriceType.MARKET)
    if session is MarketSession.EXTENDED and (not sent_as_limit or term is not Term.GOOD_FOR_DAY):
        raise _invalid("extended-hours orders must be LIMIT orders that are GOOD_FOR_DAY (E*TRADE's rule)")
    if price_type is PriceType.STOP_LIMIT:
        assert stop_price is not None and limit_price is not None
        # A buy stop-limit whose limit is below its stop (or a sell's above) can never fill.
        if (action.is_buy and limit_price < stop_price) or (not action.is_buy and limit_price > stop_price):
            side = "at or above" if action.is_buy else "at or below"
            raise _invalid(f"a {action.value} stop-limit needs its limit_price {side} its stop_price")
    return OrderRequest(
        account_id_key=key,
        symbol=symbol,
        action=action,
        quantity=raw.quantity,
        price_type=price_type,
        limit_price=limit_price,
        stop_price=stop_price,
        term=term,
        session=session,
        all_or_none=bool(raw.all_or_none),
    )


def reference_price(quote: Quote, action: Action) -> Decimal | None:
    """The live price an order is judged against: the ask for buys, the bid for sells, else the last trade."""
    side = quote.ask if action.is_buy else quote.bid
    for candidate in (side, quote.last_trade):
        if candidate is not None and candidate > 0:
            return Decimal(str(candidate))
    return None


def estimated_price(order: OrderRequest, reference: Decimal) -> Decimal:
    """The per-share price an order's value is estimated at: its limit, else its stop, else the market."""
    if order.limit_price is not None:
        return order.limit_price
    if order.stop_price is not None:
        return order.stop_price
    return reference


@dataclass(frozen=True)
class PolicyLimits:
    """The operator's static limits (from Settings)."""

    read_only: bool
    max_order_value: Decimal
    price_band_percent: Decimal
    allowed_accounts: frozenset[str]
    allowed_symbols: frozenset[str]
    blocked_symbols: frozenset[str]


class OrderPolicy:
    """The operator's limits, applied in a fixed order so the first broken rule is the one reported."""

    def __init__(self, limits: PolicyLimits) -> None:
        self.limits = limits

    def require_trading_enabled(self) -> None:
        """Read-only (the default) refuses every order-changing request, naming the setting."""
        if self.limits.read_only:
            raise PolicyRefused(
                ErrorCode.READ_ONLY,
                "trading is disabled: the daemon runs read-only (ETRADE_READ_ONLY=true, the default), "
                "so previews, placements and cancels are refused",
            )

    def check_static(self, order: OrderRequest) -> None:
        """Allow- and block-lists: no upstream call needed."""
        allowed = self.limits.allowed_accounts
        if allowed and order.account_id_key not in allowed:
            raise PolicyRefused(
                ErrorCode.ACCOUNT_NOT_ALLOWED,
                f"account {order.account_id_key} is not in ETRADE_ALLOWED_ACCOUNTS",
            )
        if order.symbol in self.limits.blocked_symbols:
            raise PolicyRefused(ErrorCode.SYMBOL_NOT_ALLOWED, f"{order.symbol} is in ETRADE_BLOCKED_SYMBOLS")
        if self.limits.allowed_symbols and order.symbol not in self.limits.allowed_symbols:
            raise PolicyRefused(ErrorCode.SYMBOL_NOT_ALLOWED, f"{order.symbol} is not in ETRADE_ALLOWED_SYMBOLS")

    def check_against_quote(self, order: OrderRequest, quote: Quote) -> tuple[Decimal, Decimal]:
        """Price band and value cap against the live quote; returns (reference price, estimated value)."""
        reference = reference_price(quote, order.action)
        if reference is None:
            raise PolicyRefused(
                ErrorCode.PRICE_OUT_OF_BAND,
                f"E*TRADE has no live price for {order.symbol}, so the order cannot be checked against the market",
            )
        band = self.limits.price_band_percent / 100
        low, high = reference * (1 - band), reference * (1 + band)
        for name, price in (("limit_price", order.limit_price), ("stop_price", order.stop_price)):
            if price is not None and not low <= price <= high:
                raise PolicyRefused(
                    ErrorCode.PRICE_OUT_OF_BAND,
                    f"{name} {decimal_text(price)} is more than {decimal_text(self.limits.price_band_percent)}% "
                    f"away from {order.symbol}'s market price {money_text(reference)} "
                    f"(allowed {money_text(low.quantize(CENT))} to {money_text(high.quantize(CENT))})",
                )
        if order.price_type.needs_stop and order.stop_price is not None:
            # A stop on the wrong side of the market triggers at once: almost always a mistake.
            last = Decimal(str(quote.last_trade)) if quote.last_trade else reference
            if order.action.is_buy and order.stop_price <= last:
                raise PolicyRefused(
                    ErrorCode.PRICE_OUT_OF_BAND,
                    f"a buy stop must be above the last price ({money_text(last)}); "
                    f"{decimal_text(order.stop_price)} would trigger at once",
                )
            if not order.action.is_buy and order.stop_price >= last:
                raise PolicyRefused(
                    ErrorCode.PRICE_OUT_OF_BAND,
                    f"a sell stop must be below the last price ({money_text(last)}); "
                    f"{decimal_text(order.stop_price)} would trigger at once",
                )
        value = estimated_price(order, reference) * order.quantity
        self.check_value(order, value)
        return reference, value

    def check_value(self, order: OrderRequest, value: Decimal) -> None:
        """The single-order value cap (ETRADE_MAX_ORDER_VALUE), on our estimate and on E*TRADE's."""
        cap = self.limits.max_order_value
        if abs(value) > cap:
            raise PolicyRefused(
                ErrorCode.ORDER_VALUE_LIMIT,
                f"the order's estimated value {money_text(abs(value).quantize(CENT))} is above the limit of "
                f"{money_text(cap)} per order (ETRADE_MAX_ORDER_VALUE)",
            )
