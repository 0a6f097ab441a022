"""The order domain: what the model proposes, what E*TRADE answers, what the human approves.

Prices and money are :class:`~decimal.Decimal` end to end (strings on the wire) so that the digest a
confirmation code is bound to covers the exact order: ``187.25`` never becomes ``187.2499999``.
Quantities of equity orders are whole shares.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal


class Action(enum.StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    BUY_TO_COVER = "BUY_TO_COVER"
    SELL_SHORT = "SELL_SHORT"

    @property
    def is_buy(self) -> bool:
        return self in (Action.BUY, Action.BUY_TO_COVER)

    @property
    def adds_exposure(self) -> bool:
        """Buying long or selling short: the position grows."""
        return self in (Action.BUY, Action.SELL_SHORT)


class PriceType(enum.StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP = "STOP"
    STOP_LIMIT = "STOP_LIMIT"

    @property
    def needs_limit(self) -> bool:
        return self in (PriceType.LIMIT, PriceType.STOP_LIMIT)

    @property
    def needs_stop(self) -> bool:
        return self in (PriceType.STOP, PriceType.STOP_LIMIT)


class Term(enum.StrEnum):
    GOOD_FOR_DAY = "GOOD_FOR_DAY"
    GOOD_UNTIL_CANCEL = "GOOD_UNTIL_CANCEL"
    IMMEDIATE_OR_CANCEL = "IMMEDIATE_OR_CANCEL"
    FILL_OR_KILL = "FILL_OR_KILL"


class MarketSession(enum.StrEnum):
    REGULAR = "REGULAR"
    EXTENDED = "EXTENDED"


class Severity(enum.StrEnum):
    """HARD findings refuse the preview; SOFT ones are shown to the human as warnings."""

    HARD = "HARD"
    SOFT = "SOFT"


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One validated equity order, exactly as it will be sent to E*TRADE."""

    account_id_key: str
    symbol: str
    action: Action
    quantity: int
    price_type: PriceType
    limit_price: Decimal | None
    stop_price: Decimal | None
    term: Term
    session: MarketSession
    all_or_none: bool

    def canonical(self) -> dict[str, str]:
        """Every field as a string, for digests, the journal and display."""
        return {
            "account_id_key": self.account_id_key,
            "symbol": self.symbol,
            "action": self.action.value,
            "quantity": str(self.quantity),
            "price_type": self.price_type.value,
            "limit_price": decimal_text(self.limit_price),
            "stop_price": decimal_text(self.stop_price),
            "order_term": self.term.value,
            "market_session": self.session.value,
            "all_or_none": "true" if self.all_or_none else "false",
        }

    def describe(self) -> str:
        """One line for humans: ``BUY 10 KO LIMIT 61.50 GOOD_FOR_DAY``."""
        price = ""
        if self.price_type is PriceType.LIMIT:
            price = f" at {decimal_text(self.limit_price)}"
        elif self.price_type is PriceType.STOP:
            price = f" stop {decimal_text(self.stop_price)}"
        elif self.price_type is PriceType.STOP_LIMIT:
            price = f" stop {decimal_text(self.stop_price)} limit {decimal_text(self.limit_price)}"
        extras = f" {self.term.value}"
        if self.session is MarketSession.EXTENDED:
            extras += " EXTENDED"
        if self.all_or_none:
            extras += " ALL_OR_NONE"
        return f"{self.action.value} {self.quantity} {self.symbol} {self.price_type.value}{price}{extras}"


def decimal_text(value: Decimal | None) -> str:
    """A Decimal as plain text without exponent (``1E+1`` → ``10``); empty for None."""
    if value is None:
        return ""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def money_text(value: Decimal | None) -> str:
    """Money with two decimals at least (``12.5`` → ``12.50``, ``0.1234`` stays)."""
    if value is None:
        return ""
    if value == value.quantize(Decimal("0.01")):
        return format(value.quantize(Decimal("0.01")), "f")
    return decimal_text(value)


@dataclass(frozen=True, slots=True)
class EtradeMessage:
    """A message E*TRADE attached to a preview, placement or cancel."""

    code: int
    type: str
    description: str


@dataclass(frozen=True, slots=True)
class EtradePreview:
    """What E*TRADE's preview said about the order."""

    preview_ids: tuple[int, ...]
    estimated_total_amount: Decimal
    estimated_commission: Decimal
    total_order_value: Decimal
    preview_time_unix_ms: int
    messages: tuple[EtradeMessage, ...] = ()
    buying_power: Decimal | None = None
    buying_power_after: Decimal | None = None

    def canonical(self) -> dict[str, str]:
        return {
            "preview_ids": ",".join(str(p) for p in self.preview_ids),
            "estimated_total_amount": decimal_text(self.estimated_total_amount),
            "estimated_commission": decimal_text(self.estimated_commission),
            "total_order_value": decimal_text(self.total_order_value),
        }


@dataclass(frozen=True, slots=True)
class RiskFinding:
    """One risk check's verdict, worded for the human who confirms."""

    check: str
    severity: Severity
    message: str


@dataclass(frozen=True, slots=True)
class Order:
    """An order as E*TRADE lists it."""

    order_id: int
    account_id_key: str
    symbol: str
    symbol_description: str
    action: str
    ordered_quantity: Decimal
    filled_quantity: Decimal
    price_type: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    order_term: str
    market_session: str
    all_or_none: bool
    status: str
    placed_at_unix_ms: int
    executed_at_unix_ms: int = 0
    average_execution_price: Decimal | None = None
    order_value: Decimal | None = None
    estimated_commission: Decimal | None = None
    replaces_order_id: int = 0
    replaced_by_order_id: int = 0

    @property
    def is_open(self) -> bool:
        return self.status == "OPEN"


@dataclass(frozen=True, slots=True)
class PlaceResult:
    """E*TRADE's answer to a place request."""

    order_id: int
    placed_at_unix_ms: int
    messages: tuple[EtradeMessage, ...] = ()


@dataclass(frozen=True, slots=True)
class CancelResult:
    """E*TRADE's answer to a cancel request."""

    order_id: int
    cancel_time_unix_ms: int
    messages: tuple[EtradeMessage, ...] = ()
