"""Events of the daemon's bus turned into notifications a human reads on a phone or in a chat.

:func:`render` is pure apart from one in-process read: for a new pending order it asks the pending
store (through ``pending_lookup``) for the order, its estimate, its expiry and its code. That code is
kept apart (:attr:`Notification.code`) and :meth:`Notification.text_for` adds it only for a channel
trusted for codes; ``repr`` never shows it. Missing event attributes are tolerated: a line is left
out rather than the notification.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from daemon.clock import iso_et
from daemon.events import Event, EventKind
from daemon.notifications.throttle import Held
from daemon.settings import notifications as names

if TYPE_CHECKING:
    from daemon.orders.pending import PendingOrder

#: A pending order by id, or None when it is unknown or no longer waiting.
PendingLookup = Callable[[str], "PendingOrder | None"]

_FILLED = {"EXECUTED", "DONE_TRADE_EXECUTED"}
_PARTIAL = {"PARTIAL", "INDIVIDUAL_FILLS"}
_STATUS_EVENTS = {
    "OPEN": names.ORDER_PLACED,
    "CANCELLED": names.ORDER_CANCELLED,
    "REJECTED": names.ORDER_REJECTED,
    "EXPIRED": names.ORDER_EXPIRED,
    **dict.fromkeys(_FILLED | _PARTIAL, names.ORDER_FILLED),
}


@dataclass(frozen=True)
class Notification:
    """What a channel sends: an event name, a title, a body, structured data for webhooks."""

    event: str
    title: str
    body: str
    data: Mapping[str, str] = field(default_factory=dict)
    #: Only on ``order_pending``; added to the text for trusted channels only.
    code: str = field(default="", repr=False)
    #: What to do without the code (untrusted channels): where the human reads it.
    code_hint: str = ""

    def text_for(self, trusted: bool) -> tuple[str, str, dict[str, str]]:
        """(title, body, data) for a channel; the code only if ``trusted``."""
        data = dict(self.data)
        body = self.body
        if self.code and trusted:
            body = f"{body}\nCode: {self.code}"
            data["confirmation_code"] = self.code
        elif self.code_hint:
            body = f"{body}\n{self.code_hint}"
        return self.title, body, data


def _money(raw: str) -> str:
    return f"{raw} USD" if raw else ""


def _pending(event: Event, lookup: PendingLookup) -> Notification | None:
    if event.attributes.get("change") != "created":
        return None
    from daemon.orders.model import money_text
    from daemon.orders.pending import PendingKind, PendingState, format_code

    pending = lookup(event.subject)
    if pending is None or pending.state is not PendingState.PENDING:
        return None
    if pending.kind is PendingKind.PLACE and pending.order is not None:
        what = pending.order.describe()
        symbol = pending.order.symbol
    elif pending.cancel is not None:
        target = pending.cancel.order
        what = f"CANCEL order {target.order_id} ({target.action} {target.symbol})"
        symbol = target.symbol
    else:
        what, symbol = f"{pending.kind.value} request", ""
    estimate = ""
    if pending.preview is not None:
        estimate = money_text(pending.preview.estimated_total_amount)
    elif pending.estimated_value:
        estimate = pending.estimated_value
    lines = [what]
    if estimate:
        lines.append(f"Estimated total: {_money(estimate)}")
    lines.append(f"Expires: {iso_et(pending.expires_at)}")
    data = {
        "pending_id": pending.id,
        "kind": pending.kind.value,
        "description": what,
        "symbol": symbol,
        "estimated_total": estimate,
        "expires_at": iso_et(pending.expires_at),
    }
    return Notification(
        names.ORDER_PENDING,
        "E*TRADE: an order waits for your approval",
        "\n".join(lines),
        data,
        code=format_code(pending.code) if pending.code else "",
        code_hint=f"Review it: etradectl orders pending (confirm with etradectl orders confirm {pending.id})",
    )


def pending_summary(held: Held, lookup: PendingLookup) -> Notification:
    """The one notification for the pending orders a channel's cap held back (never with a code)."""
    from daemon.orders.pending import PendingState

    known = [lookup(pending_id) for pending_id in held.pending_ids]
    waiting = sum(1 for p in known if p is not None and p.state is PendingState.PENDING)
    waiting += held.count - len(held.pending_ids)  # not remembered: assumed still waiting
    orders = "order is" if waiting == 1 else "orders are"
    lines = [f"{waiting} more {orders} pending approval; see `etradectl orders pending`"]
    if waiting < held.count:
        lines.append(f"({held.count} previewed since {iso_et(held.since)} were not notified one by one)")
    return Notification(
        names.ORDER_PENDING,
        f"E*TRADE: {waiting} more {'order waits' if waiting == 1 else 'orders wait'} for your approval",
        "\n".join(lines),
        {"held": str(held.count), "still_pending": str(waiting), "since": iso_et(held.since)},
    )


def _order_status(event: Event) -> Notification | None:
    a = event.attributes
    status = a.get("status", "").upper()
    name = _STATUS_EVENTS.get(status)
    if name is None:
        return None  # CANCEL_REQUESTED and the like: the final status follows
    order_id = a.get("order_id", "")
    side = a.get("side") or a.get("action") or ""
    symbol = a.get("symbol", "")
    what = " ".join(part for part in (side, a.get("quantity", ""), symbol) if part)
    label = f"Order {order_id}" if order_id else "An order"
    price = a.get("average_price", "")
    filled = a.get("filled_quantity", "")
    if name == names.ORDER_FILLED:
        partial = status in _PARTIAL
        verb = "partially filled" if partial else "filled"
        detail = " ".join(p for p in (side, filled or a.get("quantity", ""), symbol) if p)
        at = f" at {price}" if price else ""
        title = f"E*TRADE: {label} {verb}"
        body = f"{detail}{at}".strip() or f"{label} {verb}"
        if partial and filled and a.get("quantity"):
            body += f" ({filled} of {a['quantity']})"
    else:
        verb = {
            names.ORDER_PLACED: "placed",
            names.ORDER_CANCELLED: "cancelled",
            names.ORDER_REJECTED: "rejected",
            names.ORDER_EXPIRED: "expired",
        }[name]
        title = f"E*TRADE: {label} {verb}"
        body = f"{what} {verb}".strip() if what else f"{label} {verb}"
        if a.get("reason"):
            body += f": {a['reason']}"
    data = {
        k: v
        for k, v in {
            "order_id": order_id,
            "status": status,
            "previous_status": a.get("previous_status", ""),
            "symbol": symbol,
            "side": side,
            "quantity": a.get("quantity", ""),
            "filled_quantity": filled,
            "average_price": price,
        }.items()
        if v
    }
    return Notification(name, title, body, data)


def _session(event: Event) -> Notification | None:
    a = event.attributes
    if event.kind is EventKind.SESSION_EXPIRING:
        minutes = a.get("minutes_left", "")
        left = f" in {minutes} min" if minutes else " soon"
        return Notification(
            names.SESSION_EXPIRING,
            "E*TRADE session ends soon",
            f"The E*TRADE session ends{left} (midnight US Eastern, {event.subject}). "
            "Afterwards log in again with: etradectl auth login",
            {"expires_at": event.subject, "minutes_left": minutes},
        )
    if event.kind is EventKind.LOGIN_REMINDER:
        return Notification(
            names.LOGIN_REMINDER,
            "E*TRADE: log in",
            a.get("text") or f"The E*TRADE session is {event.subject}; run: {a.get('command', 'etradectl auth login')}",
            {"state": event.subject},
        )
    if event.subject == "EXPIRED" and a.get("previous") != "EXPIRED":
        return Notification(
            names.SESSION_EXPIRED,
            "E*TRADE session expired",
            "The E*TRADE session ended at midnight US Eastern. Log in again with: etradectl auth login",
            {"state": event.subject, "previous": a.get("previous", "")},
        )
    return None


def _trading(event: Event) -> Notification | None:
    a = event.attributes
    reason = a.get("reason", "")
    if event.subject == "disabled":
        if a.get("cause") == "circuit_breaker":
            body = f"The circuit breaker halted trading: {reason}" if reason else "The circuit breaker halted trading"
            return Notification(
                names.BREAKER_TRIPPED,
                "E*TRADE: circuit breaker tripped",
                f"{body}\nResume with: etradectl resume",
                {"reason": reason, "clients": a.get("clients", "")},
            )
        return Notification(
            names.TRADING_HALTED,
            "E*TRADE: trading halted",
            f"Trading is halted: {reason or 'by the operator'}\nResume with: etradectl resume",
            {"reason": reason},
        )
    if event.subject == "enabled":
        return Notification(
            names.TRADING_RESUMED, "E*TRADE: trading resumed", reason or "Trading is enabled again", {"reason": reason}
        )
    return None


def _journal(event: Event) -> Notification:
    a = event.attributes
    what = " ".join(
        p for p in (a.get("entry_kind", ""), a.get("action", ""), a.get("quantity", ""), a.get("symbol", "")) if p
    )
    lines = [f"Journal entry {event.subject}{': ' + what if what else ''}"]
    if a.get("reason"):
        lines.append(a["reason"])
    lines.append("See: etradectl orders journal")
    return Notification(
        names.JOURNAL_ATTENTION,
        "E*TRADE: an order needs your attention",
        "\n".join(lines),
        {"entry": event.subject, **{k: v for k, v in a.items() if k in {"entry_kind", "action", "quantity", "symbol"}}},
    )


#: The bus kinds the hub follows.
KINDS = (
    EventKind.PENDING_ORDERS_CHANGED,
    EventKind.ORDER_STATUS_CHANGED,
    EventKind.SESSION_STATE_CHANGED,
    EventKind.SESSION_EXPIRING,
    EventKind.LOGIN_REMINDER,
    EventKind.TRADING_STATE_CHANGED,
    EventKind.JOURNAL_ATTENTION,
)


def render(event: Event, pending_lookup: PendingLookup) -> Notification | None:
    """The notification for ``event``, or None when nothing is worth telling the human."""
    if event.kind is EventKind.PENDING_ORDERS_CHANGED:
        return _pending(event, pending_lookup)
    if event.kind is EventKind.ORDER_STATUS_CHANGED:
        return _order_status(event)
    if event.kind in (EventKind.SESSION_STATE_CHANGED, EventKind.SESSION_EXPIRING, EventKind.LOGIN_REMINDER):
        return _session(event)
    if event.kind is EventKind.TRADING_STATE_CHANGED:
        return _trading(event)
    if event.kind is EventKind.JOURNAL_ATTENTION:
        return _journal(event)
    return None


def sample_notification() -> Notification:
    return Notification(
        names.TEST, "etrade-mcp: test notification", "This channel works. (etradectl notify test)", {"test": "true"}
    )
