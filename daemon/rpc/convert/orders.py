"""Order domain objects → orders.proto messages. No gRPC here; never a confirmation code."""

from __future__ import annotations

from daemon.clock import iso_et
from daemon.orders.model import EtradeMessage, EtradePreview, Order, OrderRequest, decimal_text
from daemon.orders.pending import PendingKind, PendingOrder, PendingStore
from daemon.orders.service import CancelledOrder, PlacedOrder, confirm_instructions
from daemon.orders.tracker import Fill
from daemon.rpc.convert.common import ms
from protos.broker.v1 import orders_pb2


def order_spec(order: OrderRequest) -> orders_pb2.OrderSpec:
    c = order.canonical()
    return orders_pb2.OrderSpec(
        account_id_key=order.account_id_key,
        symbol=order.symbol,
        action=c["action"],
        quantity=order.quantity,
        price_type=c["price_type"],
        limit_price=c["limit_price"],
        stop_price=c["stop_price"],
        order_term=c["order_term"],
        market_session=c["market_session"],
        all_or_none=order.all_or_none,
    )


def messages(items: tuple[EtradeMessage, ...]) -> list[orders_pb2.EtradeMessage]:
    return [orders_pb2.EtradeMessage(code=m.code, type=m.type, description=m.description) for m in items]


def preview(p: EtradePreview) -> orders_pb2.OrderPreview:
    return orders_pb2.OrderPreview(
        preview_ids=list(p.preview_ids),
        estimated_total_amount=decimal_text(p.estimated_total_amount),
        estimated_commission=decimal_text(p.estimated_commission),
        total_order_value=decimal_text(p.total_order_value),
        preview_time_unix_ms=p.preview_time_unix_ms,
        messages=messages(p.messages),
        buying_power=decimal_text(p.buying_power),
        buying_power_after=decimal_text(p.buying_power_after),
    )


def order(o: Order) -> orders_pb2.Order:
    return orders_pb2.Order(
        order_id=o.order_id,
        account_id_key=o.account_id_key,
        symbol=o.symbol,
        symbol_description=o.symbol_description,
        action=o.action,
        ordered_quantity=decimal_text(o.ordered_quantity),
        filled_quantity=decimal_text(o.filled_quantity),
        price_type=o.price_type,
        limit_price=decimal_text(o.limit_price),
        stop_price=decimal_text(o.stop_price),
        order_term=o.order_term,
        market_session=o.market_session,
        all_or_none=o.all_or_none,
        status=o.status,
        placed_at_unix_ms=o.placed_at_unix_ms,
        executed_at_unix_ms=o.executed_at_unix_ms,
        average_execution_price=decimal_text(o.average_execution_price),
        order_value=decimal_text(o.order_value),
        estimated_commission=decimal_text(o.estimated_commission),
        replaces_order_id=o.replaces_order_id,
        replaced_by_order_id=o.replaced_by_order_id,
    )


def fill(f: Fill) -> orders_pb2.Fill:
    return orders_pb2.Fill(
        account_id_key=f.account_id_key,
        order_id=f.order_id,
        symbol=f.symbol,
        action=f.action,
        ordered_quantity=f.ordered_quantity,
        filled_quantity=f.filled_quantity,
        average_price=f.average_price,
        status=f.status,
        placed_by=f.placed_by,
        executed_at_unix_ms=f.executed_at_unix_ms,
        noticed_at_unix_ms=f.noticed_at_unix_ms,
    )


def summary(p: PendingOrder) -> str:
    if p.order is not None:
        return p.order.describe()
    if p.cancel is not None:
        target = p.cancel.order
        return (
            f"CANCEL order {target.order_id} ({target.action} {decimal_text(target.ordered_quantity)} {target.symbol})"
        )
    return p.kind.value


def pending(p: PendingOrder, store: PendingStore) -> orders_pb2.PendingOrder:
    """A pending order for any client: everything but the code."""
    message = orders_pb2.PendingOrder(
        pending_id=p.id,
        kind=p.kind.value,
        state=p.state.value,
        account_id_key=p.account_id_key,
        warnings=[orders_pb2.RiskWarning(check=w.check, message=w.message) for w in p.warnings],
        estimated_value=p.estimated_value,
        reference_price=p.reference_price,
        symbol_description=p.symbol_description,
        created_at_unix_ms=ms(p.created_at),
        expires_at_unix_ms=ms(p.expires_at),
        expires_at_et=iso_et(p.expires_at),
        digest=p.digest,
        attempts_left=max(0, store.max_attempts - p.wrong_attempts),
        summary=summary(p),
        confirm_instructions=confirm_instructions(p) if p.kind in (PendingKind.PLACE, PendingKind.CANCEL) else "",
    )
    if p.order is not None:
        message.order.CopyFrom(order_spec(p.order))
    if p.preview is not None:
        message.preview.CopyFrom(preview(p.preview))
    if p.cancel is not None:
        message.cancel_target.CopyFrom(order(p.cancel.order))
    return message


def placed(result: PlacedOrder, store: PendingStore) -> orders_pb2.PlaceConfirmedResponse:
    return orders_pb2.PlaceConfirmedResponse(
        order_id=result.order_id,
        placed_at_unix_ms=result.placed_at_unix_ms,
        messages=messages(result.messages),
        journal_entry=result.journal_entry,
        pending=pending(result.pending, store),
    )


def cancelled(result: CancelledOrder, store: PendingStore) -> orders_pb2.CancelConfirmedResponse:
    return orders_pb2.CancelConfirmedResponse(
        order_id=result.order_id,
        cancel_time_unix_ms=result.cancel_time_unix_ms,
        messages=messages(result.messages),
        journal_entry=result.journal_entry,
        pending=pending(result.pending, store),
    )
