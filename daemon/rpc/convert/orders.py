"""Order domain objects → protobuf messages (orders.proto, operator.proto). No gRPC here.

The confirmation code never passes through this module except in :func:`pending_with_code`, which
only the Operator servicer calls.
"""

from __future__ import annotations

import json

from daemon.audit import AuditEntry
from daemon.clock import iso_et
from daemon.orders.journal import Entry
from daemon.orders.model import EtradeMessage, EtradePreview, Order, OrderRequest, decimal_text
from daemon.orders.pending import PendingKind, PendingOrder, PendingStore, format_code
from daemon.orders.service import CancelledOrder, PlacedOrder, TradingState, confirm_instructions
from daemon.orders.tracker import Fill
from protos.broker.v1 import operator_pb2, orders_pb2


def _ms(seconds: float | None) -> int:
    return 0 if seconds is None else int(seconds * 1000)


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
        created_at_unix_ms=_ms(p.created_at),
        expires_at_unix_ms=_ms(p.expires_at),
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


def pending_with_code(p: PendingOrder, store: PendingStore) -> operator_pb2.PendingWithCode:
    """For the Operator service only: the human's view, code included."""
    return operator_pb2.PendingWithCode(
        pending=pending(p, store), confirmation_code=format_code(p.code) if p.code else ""
    )


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


def trading_state(state: TradingState, threshold: int) -> operator_pb2.TradingState:
    return operator_pb2.TradingState(
        read_only=state.read_only,
        halted=state.halt.halted,
        halt_reason=state.halt.reason,
        halted_at_unix_ms=_ms(state.halt.since) if state.halt.since else 0,
        halted_by=state.halt.by,
        pending=state.pending,
        journal_attention=state.attention,
        breaker_recent=state.breaker_recent,
        breaker_threshold=threshold,
    )


def audit_entry(e: AuditEntry) -> operator_pb2.AuditEntry:
    return operator_pb2.AuditEntry(
        seq=e.seq,
        at_unix_ms=e.at_ms,
        event=e.event,
        data_json=json.dumps(e.data, sort_keys=True),
        prev_hash=e.prev,
        hash=e.hash,
    )


def journal_entry(e: Entry) -> operator_pb2.JournalEntry:
    return operator_pb2.JournalEntry(
        id=e.id,
        kind=e.kind.value,
        state=e.state.value,
        account_id_key=e.account_id_key,
        client_order_id=e.client_order_id,
        symbol=e.symbol,
        action=e.action,
        quantity=e.quantity,
        price_type=e.price_type,
        limit_price=e.limit_price,
        stop_price=e.stop_price,
        order_term=e.order_term,
        market_session=e.market_session,
        order_id=e.order_id or 0,
        created_at_unix_ms=_ms(e.created_at),
        resolved_at_unix_ms=_ms(e.resolved_at),
        detail=e.detail,
        candidate_order_ids=list(e.candidate_ids),
        reconciled=e.reconciled,
        acknowledged=e.acknowledged,
        needs_attention=e.needs_attention,
        pending_id=e.pending_id,
        estimated_value=e.estimated_value,
    )
