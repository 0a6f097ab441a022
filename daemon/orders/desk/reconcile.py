"""Reconciliation: what happened to a request whose answer never came?

E*TRADE does not echo ``clientOrderId`` in any response (reference §3.6), so an order cannot be
found by the id we gave it. A PLACE entry is matched instead on the order's details — account,
symbol, action, quantity, price type, limit and stop prices, term and session — among orders placed
from shortly before the request was sent, leaving out orders already attributed to another entry.

- exactly one candidate → PLACED (reconciled), with its order id;
- several candidates → still UNKNOWN, with the candidates listed for the operator: never a guess;
- none, while the request could still surface → still UNKNOWN (look again later);
- none after the grace period → NOT_PLACED (reconciled).

Nothing here ever sends an order. A CANCEL entry is settled by the status of the order it targeted.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from daemon.orders.journal import Entry, EntryKind, EntryState
from daemon.orders.model import Order

#: E*TRADE's clock and ours may disagree; an order placed up to this long "before" we sent counts.
CLOCK_TOLERANCE_SECONDS = 300.0


@dataclass(frozen=True)
class Outcome:
    state: EntryState
    detail: str
    order_id: int | None = None
    candidates: tuple[int, ...] = ()
    reconciled: bool = True


def _dec(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


def matches(entry: Entry, order: Order) -> bool:
    """Whether ``order`` is what ``entry`` asked for."""
    return (
        order.account_id_key == entry.account_id_key
        and order.symbol.upper() == entry.symbol.upper()
        and order.action.upper() == entry.action.upper()
        and order.ordered_quantity == _dec(entry.quantity)
        and order.price_type.upper() == entry.price_type.upper()
        and order.limit_price == _dec(entry.limit_price)
        and order.stop_price == _dec(entry.stop_price)
        and (not order.order_term or order.order_term.upper() == entry.order_term.upper())
        and (not order.market_session or order.market_session.upper() == entry.market_session.upper())
        and order.placed_at_unix_ms >= (entry.created_at - CLOCK_TOLERANCE_SECONDS) * 1000
    )


def settle_place(entry: Entry, orders: list[Order], claimed: set[int], *, now: float, grace_seconds: float) -> Outcome:
    """The outcome of an UNKNOWN place request given the account's recent orders."""
    assert entry.kind is EntryKind.PLACE
    candidates = sorted(o.order_id for o in orders if o.order_id not in claimed and matches(entry, o))
    if len(candidates) == 1:
        return Outcome(
            EntryState.PLACED,
            f"found in E*TRADE's order list as order {candidates[0]}: the order WAS placed (once)",
            order_id=candidates[0],
        )
    if len(candidates) > 1:
        shown = ", ".join(str(c) for c in candidates)
        return Outcome(
            EntryState.UNKNOWN,
            f"E*TRADE lists {len(candidates)} matching orders ({shown}); which one this request made cannot be told. "
            "Check them at E*TRADE and record the answer with `etradectl orders resolve`",
            candidates=tuple(candidates),
            reconciled=False,
        )
    if now - entry.created_at < grace_seconds:
        return Outcome(
            EntryState.UNKNOWN,
            "not in E*TRADE's order list yet; the daemon keeps looking and never re-sends it",
            reconciled=False,
        )
    return Outcome(
        EntryState.NOT_PLACED,
        f"not in E*TRADE's order list {grace_seconds:g} s after it was sent: the order was NOT placed",
    )


def settle_cancel(entry: Entry, order: Order | None, *, now: float, grace_seconds: float) -> Outcome:
    """The outcome of an UNKNOWN cancel request given the targeted order's current state."""
    assert entry.kind is EntryKind.CANCEL
    if order is not None and order.status in ("CANCEL_REQUESTED", "CANCELLED"):
        return Outcome(
            EntryState.CANCEL_ACCEPTED,
            f"order {order.order_id} is {order.status}: the cancel was accepted",
            order.order_id,
        )
    if order is not None and order.status != "OPEN":
        return Outcome(
            EntryState.NOT_CANCELLED,
            f"order {order.order_id} is {order.status}: it was not cancelled",
            order.order_id,
        )
    if now - entry.created_at < grace_seconds:
        return Outcome(EntryState.UNKNOWN, "the order is still OPEN; the daemon keeps looking", reconciled=False)
    return Outcome(EntryState.NOT_CANCELLED, "the order is still OPEN: the cancel did not take effect")
