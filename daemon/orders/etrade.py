"""E*TRADE's order request bodies and answers (reference §2.3, §3.5-3.9).

Requests go out as JSON (the form production clients use, §3.6): every price and quantity as a
string, so the exact decimal the human approved is what E*TRADE receives. Answers are parsed as
tolerantly as the rest of ``daemon/etrade_json.py``: a single element may be a bare object,
numbers may be strings, and anything missing becomes None or zero — never a crash.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from broker_client.errors import ErrorCode, UpstreamError
from daemon.etrade.etrade_json import JSON, as_list, obj, text, whole
from daemon.log_redaction import mask_account_numbers
from daemon.orders.model import (
    CancelResult,
    EtradeMessage,
    EtradePreview,
    Order,
    OrderRequest,
    PlaceResult,
    decimal_text,
)


def _order_fields(order: OrderRequest, client_order_id: str) -> dict[str, Any]:
    return {
        "orderType": "EQ",
        "clientOrderId": client_order_id,
        "Order": [
            {
                "allOrNone": "true" if order.all_or_none else "false",
                "priceType": order.price_type.value,
                "orderTerm": order.term.value,
                "marketSession": order.session.value,
                "stopPrice": decimal_text(order.stop_price),
                "limitPrice": decimal_text(order.limit_price),
                "Instrument": [
                    {
                        "Product": {"securityType": "EQ", "symbol": order.symbol},
                        "orderAction": order.action.value,
                        "quantityType": "QUANTITY",
                        "quantity": str(order.quantity),
                    }
                ],
            }
        ],
    }


def preview_body(order: OrderRequest, client_order_id: str) -> dict[str, Any]:
    """``{"PreviewOrderRequest": …}``."""
    return {"PreviewOrderRequest": _order_fields(order, client_order_id)}


def place_body(order: OrderRequest, client_order_id: str, preview_ids: tuple[int, ...]) -> dict[str, Any]:
    """The previewed request again, with the same clientOrderId and its ``PreviewIds`` (§3.8)."""
    fields = _order_fields(order, client_order_id)
    fields["PreviewIds"] = [{"previewId": pid} for pid in preview_ids]
    return {"PlaceOrderRequest": fields}


def cancel_body(order_id: int) -> dict[str, Any]:
    return {"CancelOrderRequest": {"orderId": order_id}}


def dec(value: Any) -> Decimal | None:
    """A JSON number or numeric string as an exact Decimal (floats through their shortest repr)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def dec0(value: Any) -> Decimal:
    found = dec(value)
    return Decimal(0) if found is None else found


def _messages(container: Any) -> tuple[EtradeMessage, ...]:
    found = []
    for raw in as_list(obj(container).get("Message")):
        m = obj(raw)
        description = mask_account_numbers(text(m.get("description")).strip())
        if description:
            found.append(EtradeMessage(code=whole(m.get("code")), type=text(m.get("type")), description=description))
    return tuple(found)


def parse_preview(payload: JSON | None) -> EtradePreview:
    """PreviewOrderResponse → what the human needs to see; raises if E*TRADE gave no previewId."""
    body = obj(obj(payload).get("PreviewOrderResponse"))
    preview_ids = tuple(whole(obj(p).get("previewId")) for p in as_list(body.get("PreviewIds")))
    preview_ids = tuple(p for p in preview_ids if p > 0)
    if not preview_ids:
        raise UpstreamError(ErrorCode.UPSTREAM_ERROR, "E*TRADE's preview answer carried no previewId")
    order = obj(next(iter(as_list(body.get("Order"))), {}))
    messages = _messages(order.get("messages")) + _messages(body.get("Messages")) + _messages(body.get("messages"))
    details = obj(body.get("marginBpDetails")).get("marginable") or obj(body.get("cashBpDetails")).get("settled")
    bp = obj(details)
    return EtradePreview(
        preview_ids=preview_ids,
        estimated_total_amount=dec0(order.get("estimatedTotalAmount")),
        estimated_commission=dec0(order.get("estimatedCommission")),
        total_order_value=dec0(body.get("totalOrderValue")),
        preview_time_unix_ms=whole(body.get("previewTime")),
        messages=messages,
        buying_power=dec(bp.get("currentBp")),
        buying_power_after=dec(bp.get("netBp")),
    )


def parse_place(payload: JSON | None) -> PlaceResult:
    """PlaceOrderResponse → the new order id; raises UpstreamError when it has none."""
    body = obj(obj(payload).get("PlaceOrderResponse"))
    ids = [whole(obj(o).get("orderId")) for o in as_list(body.get("OrderIds"))]
    ids = [i for i in ids if i > 0]
    if not ids:
        raise UpstreamError(ErrorCode.UPSTREAM_ERROR, "E*TRADE's place answer carried no orderId")
    order = obj(next(iter(as_list(body.get("Order"))), {}))
    return PlaceResult(
        order_id=ids[0], placed_at_unix_ms=whole(body.get("placedTime")), messages=_messages(order.get("messages"))
    )


def parse_cancel(payload: JSON | None) -> CancelResult:
    body = obj(obj(payload).get("CancelOrderResponse"))
    return CancelResult(
        order_id=whole(body.get("orderId")),
        cancel_time_unix_ms=whole(body.get("cancelTime")),
        messages=_messages(body.get("Messages")),
    )


def _order(raw: Any, account_id_key: str) -> Order | None:
    o = obj(raw)
    order_id = whole(o.get("orderId"))
    detail = obj(next(iter(as_list(o.get("OrderDetail"))), {}))
    leg = obj(next(iter(as_list(detail.get("Instrument"))), {}))
    product = obj(leg.get("Product"))
    symbol = text(product.get("symbol")).upper()
    if not order_id or not symbol:
        return None
    limit, stop = dec(detail.get("limitPrice")), dec(detail.get("stopPrice"))
    return Order(
        order_id=order_id,
        account_id_key=account_id_key,
        symbol=symbol,
        symbol_description=text(leg.get("symbolDescription")),
        action=text(leg.get("orderAction")),
        ordered_quantity=dec0(leg.get("orderedQuantity") or leg.get("quantity")),
        filled_quantity=dec0(leg.get("filledQuantity")),
        price_type=text(detail.get("priceType")),
        limit_price=limit if limit else None,
        stop_price=stop if stop else None,
        order_term=text(detail.get("orderTerm")),
        market_session=text(detail.get("marketSession")),
        all_or_none=text(detail.get("allOrNone")).lower() == "true",
        status=text(detail.get("status")),
        placed_at_unix_ms=whole(detail.get("placedTime")),
        executed_at_unix_ms=whole(detail.get("executedTime")),
        average_execution_price=dec(leg.get("averageExecutionPrice")),
        order_value=dec(detail.get("orderValue")),
        estimated_commission=dec(leg.get("estimatedCommission")),
        replaces_order_id=whole(detail.get("replacesOrderId")),
        replaced_by_order_id=whole(detail.get("replacedByOrderId")),
    )


def parse_orders(payload: JSON | None, account_id_key: str) -> tuple[list[Order], str | None]:
    """One page of OrdersResponse: its orders and the marker of the next page (None: last page).

    ``payload`` None is HTTP 204 (nothing matched).
    """
    body = obj(obj(payload).get("OrdersResponse"))
    orders = [order for raw in as_list(body.get("Order")) if (order := _order(raw, account_id_key)) is not None]
    marker = text(body.get("marker")).strip() or None
    return orders, marker
