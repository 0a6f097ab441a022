"""Operator views → operator.proto messages.

The confirmation code passes through here only in :func:`pending_with_code`, which only the Operator
servicer calls."""

from __future__ import annotations

import json

from daemon.audit import AuditEntry
from daemon.orders.journal import Entry
from daemon.orders.pending import PendingOrder, PendingStore, format_code
from daemon.orders.service import TradingState
from daemon.rpc.convert.common import ms
from daemon.rpc.convert.orders import pending
from protos.broker.v1 import operator_pb2


def pending_with_code(p: PendingOrder, store: PendingStore) -> operator_pb2.PendingWithCode:
    """For the Operator service only: the human's view, code included."""
    return operator_pb2.PendingWithCode(
        pending=pending(p, store), confirmation_code=format_code(p.code) if p.code else ""
    )


def trading_state(state: TradingState, threshold: int) -> operator_pb2.TradingState:
    return operator_pb2.TradingState(
        read_only=state.read_only,
        halted=state.halt.halted,
        halt_reason=state.halt.reason,
        halted_at_unix_ms=ms(state.halt.since) if state.halt.since else 0,
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
        created_at_unix_ms=ms(e.created_at),
        resolved_at_unix_ms=ms(e.resolved_at),
        detail=e.detail,
        candidate_order_ids=list(e.candidate_ids),
        reconciled=e.reconciled,
        acknowledged=e.acknowledged,
        needs_attention=e.needs_attention,
        pending_id=e.pending_id,
        estimated_value=e.estimated_value,
    )
