"""Order request bodies (PreviewOrderRequest, PlaceOrderRequest, CancelOrderRequest), JSON or XML.

E*TRADE accepts both bodies (reference §2.0): JSON ``{"PreviewOrderRequest": {...}}`` with
``Content-Type: application/json``, or XML ``<PreviewOrderRequest>...</PreviewOrderRequest>`` with
``application/xml``. Both are turned into the same nested dict (XML: repeated elements become
lists, leaves become text) and then into an :class:`OrderRequest`, so preview and place compare
*normalized* orders: ``"10.00"`` and ``10`` are the same limit price, ``"false"`` and ``false`` the
same flag. Scope: equity orders (``orderType`` EQ) with one ``Order`` of one ``Instrument``.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from emulator import errors
from emulator.errors import ApiError
from emulator.routing import Request

TRAILING_STOPS = ("TRAILING_STOP_CNST", "TRAILING_STOP_PRCT")
ON_OPEN = ("MARKET_ON_OPEN", "LIMIT_ON_OPEN")
ON_CLOSE = ("MARKET_ON_CLOSE", "LIMIT_ON_CLOSE")
#: Net pricing exists for multi-leg option orders only; an equity order naming it is refused as
#: an order rule, not as an unknown value.
NET_PRICE_TYPES = ("NET_DEBIT", "NET_CREDIT", "NET_EVEN")
PRICE_TYPES = ("MARKET", "LIMIT", "STOP", "STOP_LIMIT", *TRAILING_STOPS, *ON_OPEN, *ON_CLOSE, *NET_PRICE_TYPES)
#: Price types that carry a limit price, and those whose ``stopPrice`` is used (a trailing
#: stop's ``stopPrice`` is the trail: dollars for CNST, percent for PRCT).
WITH_LIMIT = ("LIMIT", "STOP_LIMIT", "LIMIT_ON_OPEN", "LIMIT_ON_CLOSE")
WITH_STOP = ("STOP", "STOP_LIMIT", *TRAILING_STOPS)
ORDER_TERMS = ("GOOD_FOR_DAY", "GOOD_UNTIL_CANCEL", "GOOD_TILL_DATE", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL")
ACTIONS = ("BUY", "SELL", "BUY_TO_COVER", "SELL_SHORT")
SESSIONS = ("REGULAR", "EXTENDED")
BUY_ACTIONS = ("BUY", "BUY_TO_COVER")
_CLIENT_ORDER_ID = re.compile(r"[A-Za-z0-9]{1,20}")
MAX_QUANTITY = Decimal(1_000_000)


@dataclass(frozen=True)
class OrderSpec:
    """One equity order, normalized: what a preview and its place must agree on."""

    symbol: str
    action: str
    quantity: Decimal
    price_type: str
    order_term: str
    market_session: str
    all_or_none: bool
    limit_price: Decimal | None
    stop_price: Decimal | None
    security_type: str = "EQ"
    quantity_type: str = "QUANTITY"

    @property
    def is_buy(self) -> bool:
        """BUY or BUY_TO_COVER."""
        return self.action in BUY_ACTIONS


@dataclass(frozen=True)
class OrderRequest:
    """A Preview/PlaceOrderRequest: the order, its clientOrderId and (place only) its previewIds."""

    order_type: str
    client_order_id: str
    spec: OrderSpec
    preview_ids: tuple[int, ...] = ()


def _xml_to_dict(element: ET.Element) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    result: dict[str, Any] = {}
    for child in children:
        value = _xml_to_dict(child)
        if child.tag in result:
            existing = result[child.tag]
            if isinstance(existing, list):
                existing.append(value)
            else:
                result[child.tag] = [existing, value]
        else:
            result[child.tag] = value
    return result


def parse_body(request: Request, root: str) -> Mapping[str, Any]:
    """The content of ``root`` in a JSON or XML body; 400 when the body is not that document."""
    body = request.body.strip()
    content_type = (request.headers.get("content-type") or "").lower()
    if not body:
        raise ApiError(400, errors.INVALID_ORDER, f"The request body must be a {root}.")
    try:
        if "xml" in content_type or body.startswith(b"<"):
            # Loopback only; expat (>= 2.4.1, bundled with Python 3.11) refuses entity expansion bombs.
            element = ET.fromstring(body)
            if element.tag != root:
                raise ApiError(400, errors.INVALID_ORDER, f"The request body must be a {root}.")
            content = _xml_to_dict(element)
        else:
            document = json.loads(body)
            content = document.get(root) if isinstance(document, dict) else None
    except (ET.ParseError, ValueError, UnicodeDecodeError):
        raise ApiError(400, errors.INVALID_ORDER, f"The request body is not a valid {root}.") from None
    if not isinstance(content, Mapping):
        raise ApiError(400, errors.INVALID_ORDER, f"The request body must be a {root}.")
    return content


def as_list(value: Any) -> list[Any]:
    """A one-element list arrives as a bare object (XML, and some JSON clients)."""
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _enum(raw: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    value = _text(raw.get(name)).upper() or (default or "")
    if value not in allowed:
        raise ApiError.invalid_parameter(name)
    return value


def _decimal(raw: Mapping[str, Any], name: str) -> Decimal | None:
    value = _text(raw.get(name))
    if not value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ApiError.invalid_parameter(name) from None
    if not number.is_finite() or number <= 0:
        raise ApiError.invalid_parameter(name)
    return number.normalize()


def _bool(raw: Mapping[str, Any], name: str) -> bool:
    value = _text(raw.get(name)).lower()
    if value in ("", "false"):
        return False
    if value == "true":
        return True
    raise ApiError.invalid_parameter(name)


def _spec(order: Mapping[str, Any]) -> OrderSpec:
    instruments = as_list(order.get("Instrument"))
    if len(instruments) != 1 or not isinstance(instruments[0], Mapping):
        raise ApiError(400, errors.INVALID_ORDER, "An equity order takes exactly one Instrument.")
    instrument = instruments[0]
    product = instrument.get("Product")
    if not isinstance(product, Mapping):
        raise ApiError.invalid_parameter("Product")
    security_type = _text(product.get("securityType")).upper() or "EQ"
    if security_type != "EQ":
        raise ApiError(400, errors.INVALID_ORDER, "Only equity (EQ) orders are supported.")
    symbol = _text(product.get("symbol")).upper()
    if not symbol:
        raise ApiError.invalid_parameter("symbol")
    quantity_type = _text(instrument.get("quantityType")).upper() or "QUANTITY"
    if quantity_type != "QUANTITY":
        raise ApiError.invalid_parameter("quantityType")
    quantity = _decimal(instrument, "quantity")
    if quantity is None or quantity != quantity.to_integral_value() or quantity > MAX_QUANTITY:
        raise ApiError.invalid_parameter("quantity")
    price_type = _enum(order, "priceType", PRICE_TYPES)
    if price_type in NET_PRICE_TYPES:
        raise ApiError(400, errors.INVALID_ORDER, f"{price_type} applies to multi-leg option orders, not to equities.")
    limit_price = _decimal(order, "limitPrice")
    stop_price = _decimal(order, "stopPrice")
    if price_type in WITH_LIMIT and limit_price is None:
        raise ApiError(400, errors.INVALID_ORDER, f"A limitPrice is required for {price_type} orders.")
    if price_type in WITH_STOP and stop_price is None:
        raise ApiError(400, errors.INVALID_ORDER, f"A stopPrice is required for {price_type} orders.")
    if price_type == "TRAILING_STOP_PRCT" and stop_price is not None and not 0 < stop_price < 100:
        raise ApiError(400, errors.INVALID_ORDER, "A TRAILING_STOP_PRCT trail (stopPrice) is a percentage below 100.")
    # Prices that do not apply to the price type are ignored, as E*TRADE's own sample sends
    # ``stopPrice: ""`` with every LIMIT order.
    if price_type not in WITH_LIMIT:
        limit_price = None
    if price_type not in WITH_STOP:
        stop_price = None
    term = _enum(order, "orderTerm", ORDER_TERMS)
    session = _enum(order, "marketSession", SESSIONS, "REGULAR")
    if term in ("IMMEDIATE_OR_CANCEL", "FILL_OR_KILL") and price_type != "LIMIT":
        raise ApiError(400, errors.INVALID_ORDER, f"{term} is available for LIMIT orders only.")
    if price_type in (*ON_OPEN, *ON_CLOSE) and term != "GOOD_FOR_DAY":
        raise ApiError(400, errors.INVALID_ORDER, f"{price_type} orders are GOOD_FOR_DAY only.")
    if session == "EXTENDED" and (price_type != "LIMIT" or term != "GOOD_FOR_DAY"):
        raise ApiError(400, errors.INVALID_ORDER, "Extended-hours orders must be LIMIT orders that are GOOD_FOR_DAY.")
    return OrderSpec(
        symbol=symbol,
        action=_enum(instrument, "orderAction", ACTIONS),
        quantity=quantity,
        price_type=price_type,
        order_term=term,
        market_session=session,
        all_or_none=_bool(order, "allOrNone"),
        limit_price=limit_price,
        stop_price=stop_price,
    )


def order_request(content: Mapping[str, Any], *, place: bool) -> OrderRequest:
    """Validate a Preview/PlaceOrderRequest's content. ``place`` requires ``PreviewIds``.

    A place request without E*TRADE's exact ``PreviewIds`` wrapper gets code 101, the answer
    clients have met for a missing or malformed preview reference (reference §5.4).
    """
    order_type = _text(content.get("orderType")).upper()
    if order_type != "EQ":
        raise ApiError(400, errors.INVALID_ORDER, "Only orderType EQ is supported.")
    client_order_id = _text(content.get("clientOrderId"))
    if not _CLIENT_ORDER_ID.fullmatch(client_order_id):
        raise ApiError.invalid_parameter("clientOrderId")
    orders = as_list(content.get("Order"))
    if len(orders) != 1 or not isinstance(orders[0], Mapping):
        raise ApiError(400, errors.INVALID_ORDER, "An equity order request takes exactly one Order.")
    spec = _spec(orders[0])
    preview_ids: list[int] = []
    if place:
        for item in as_list(content.get("PreviewIds")):
            raw = _text(item.get("previewId")) if isinstance(item, Mapping) else ""
            if not raw.isdigit():
                raise ApiError.bad_request(errors.ORDER_TIMED_OUT)
            preview_ids.append(int(raw))
        if not preview_ids:
            raise ApiError.bad_request(errors.ORDER_TIMED_OUT)
    return OrderRequest(order_type, client_order_id, spec, tuple(preview_ids))


def cancel_order_id(content: Mapping[str, Any]) -> int:
    """The ``orderId`` of a CancelOrderRequest."""
    raw = _text(content.get("orderId"))
    if not raw.isdigit():
        raise ApiError.invalid_parameter("orderId")
    return int(raw)
