"""The last-known status of every order the daemon has seen, and the one place that publishes changes.

Every sight of an order at E*TRADE — the fill watcher's polls, a client's ``ListOrders`` or
``GetOrder``, a placement's answer, a reconciliation — goes through :meth:`OrderTracker.observe`
(or :meth:`~OrderTracker.placed` / :meth:`~OrderTracker.cancel_requested`). A change of an order's
status or filled quantity is published as ``ORDER_STATUS_CHANGED`` on the event bus **once**:

- the table is persisted in the state directory (``order-statuses.json``, written atomically)
  *before* the event is published, so a daemon restarted after a fill does not announce it again,
  and a fill that happened while the daemon was down is announced by the next one (it still
  remembers the order as open). A crash between the write and the publication loses that one
  event rather than repeating it: a repeated "filled" on someone's phone is worse than a missing
  one they can read with ``get_recent_fills``.
- an order seen for the first time is announced only if it is news: once the watcher has looked at
  its account (the account's *baseline*), a working order (placed outside this system: on the web,
  in the app) or one that closed after the baseline. What the first look finds is the starting
  point, recorded silently; its working orders are watched from then on.

Fills (the filled quantity grew, or the order EXECUTED) are also kept as a bounded list of recent
fills for ``RecentFills``. Entries whose orders can no longer appear in the watcher's listing window
are pruned, so the file stays small.

Invariants: never a code or secret in an event or in the file; no gRPC here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from daemon.accounts.watchlists import atomic_write_text
from daemon.clock import Clock
from daemon.events import EventBus, EventKind
from daemon.orders.model import Order, decimal_text

log = logging.getLogger(__name__)

FILE_NAME = "order-statuses.json"
FORMAT_VERSION = 1
#: Statuses after which nothing more happens to an order.
TERMINAL = frozenset({"EXECUTED", "CANCELLED", "EXPIRED", "REJECTED", "DONE_TRADE_EXECUTED", "DO_NOT_EXERCISE"})
#: ``placed_by`` values: through this daemon, or anywhere else (E*TRADE's web site, its app, another tool).
THIS_SYSTEM = "this_system"
OUTSIDE = "outside"
#: E*TRADE's clock and ours may disagree; an order closed this long before the baseline still counts as news.
BASELINE_TOLERANCE_SECONDS = 120.0
DEFAULT_MAX_FILLS = 200


def is_working(status: str) -> bool:
    """Still able to change at E*TRADE (OPEN, PARTIAL, CANCEL_REQUESTED, ...)."""
    return status.upper() not in TERMINAL


@dataclass(frozen=True, slots=True)
class Known:
    """What the daemon last saw of one order."""

    order_id: int
    account_id_key: str
    symbol: str
    action: str
    quantity: str
    status: str
    filled_quantity: str
    average_price: str
    placed_by: str
    placed_at_unix_ms: int
    executed_at_unix_ms: int
    seen_at: float

    @property
    def working(self) -> bool:
        return is_working(self.status)


@dataclass(frozen=True, slots=True)
class Fill:
    """Shares of an order that filled, as the daemon noticed them."""

    account_id_key: str
    order_id: int
    symbol: str
    action: str
    ordered_quantity: str
    filled_quantity: str
    average_price: str
    status: str
    placed_by: str
    executed_at_unix_ms: int
    noticed_at_unix_ms: int


def _dec(text: str) -> Decimal:
    try:
        return Decimal(text) if text else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _known_from(order: Order, placed_by: str, now: float) -> Known:
    return Known(
        order_id=order.order_id,
        account_id_key=order.account_id_key,
        symbol=order.symbol,
        action=order.action,
        quantity=decimal_text(order.ordered_quantity),
        status=order.status.upper(),
        filled_quantity=decimal_text(order.filled_quantity),
        average_price=decimal_text(order.average_execution_price),
        placed_by=placed_by,
        placed_at_unix_ms=order.placed_at_unix_ms,
        executed_at_unix_ms=order.executed_at_unix_ms,
        seen_at=now,
    )


class OrderTracker:
    """Last-known statuses (persisted), change detection and publication, recent fills."""

    def __init__(
        self,
        path: Path | None,
        clock: Clock,
        events: EventBus | None,
        *,
        keep_seconds: float = 62 * 86_400,
        max_fills: int = DEFAULT_MAX_FILLS,
    ) -> None:
        self._path = path
        self._clock = clock
        self._events = events
        self._keep_seconds = keep_seconds
        self._max_fills = max_fills
        self._orders: dict[int, Known] = {}
        self._baselines: dict[str, float] = {}
        self._fills: list[Fill] = []
        self._listeners: list[Callable[[Known], None]] = []
        self.published = 0

    # -- persistence -------------------------------------------------------------------------
    def load(self) -> None:
        """Read the table a previous run left; a missing or unreadable file starts an empty one."""
        if self._path is None or not self._path.exists():
            return
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            if data.get("version") != FORMAT_VERSION:
                raise ValueError(f"format {data.get('version')!r}")
            orders = {int(o["order_id"]): Known(**o) for o in data.get("orders", [])}
            baselines = {str(k): float(v) for k, v in dict(data.get("baselines", {})).items()}
            fills = [Fill(**f) for f in data.get("fills", [])]
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            # Starting empty means the next poll takes a new baseline: history stays silent, nothing repeats.
            log.warning("orders: cannot read %s (%s); order statuses start afresh", self._path, exc)
            return
        self._orders, self._baselines, self._fills = orders, baselines, fills

    def _save(self) -> None:
        if self._path is None:
            return
        document: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "orders": [asdict(k) for k in sorted(self._orders.values(), key=lambda k: k.order_id)],
            "baselines": self._baselines,
            "fills": [asdict(f) for f in self._fills],
        }
        atomic_write_text(self._path, json.dumps(document, indent=1, sort_keys=True) + "\n")

    def _save_or_log(self) -> bool:
        try:
            self._save()
        except OSError as exc:
            log.error("orders: cannot write %s (%s); order status events may repeat after a restart", self._path, exc)
            return False
        return True

    # -- queries -----------------------------------------------------------------------------
    def on_working(self, listener: Callable[[Known], None]) -> None:
        """Call ``listener`` whenever an order is seen working (the watcher wakes up for it)."""
        self._listeners.append(listener)

    def working(self) -> list[Known]:
        return sorted((k for k in self._orders.values() if k.working), key=lambda k: k.order_id)

    def get(self, order_id: int) -> Known | None:
        return self._orders.get(order_id)

    def baseline(self, account_id_key: str) -> float | None:
        return self._baselines.get(account_id_key)

    def recent_fills(self, account_id_key: str = "", limit: int = 50) -> list[Fill]:
        """Newest first."""
        chosen = [f for f in reversed(self._fills) if not account_id_key or f.account_id_key == account_id_key]
        return chosen[: max(1, limit)]

    # -- changes -----------------------------------------------------------------------------
    def watched(self, account_id_key: str, at: float) -> None:
        """The watcher listed this account completely at ``at``: from now on, closed orders first
        seen there are news. The first baseline stays (later ones would hide what happened between)."""
        if account_id_key not in self._baselines:
            self._baselines[account_id_key] = at
            self._prune(at)
            self._save_or_log()

    def observe(self, account_id_key: str, orders: Iterable[Order]) -> bool:
        """Take in what E*TRADE lists; publish each change once. True if anything changed."""
        now = self._clock.now()
        changes: list[tuple[Known, Known | None, bool]] = []
        for order in orders:
            before = self._orders.get(order.order_id)
            placed_by = before.placed_by if before is not None else OUTSIDE
            after = _known_from(order, placed_by, now)
            if before is not None and (before.status, _dec(before.filled_quantity)) == (
                after.status,
                _dec(after.filled_quantity),
            ):
                continue
            announce = before is not None or self._news(account_id_key, after)
            self._orders[after.order_id] = after
            changes.append((after, before, announce))
        return self._commit(changes, now)

    def placed(
        self, account_id_key: str, order_id: int, *, symbol: str, action: str, quantity: str, placed_at_unix_ms: int
    ) -> bool:
        """An order this daemon placed (or found placed by reconciliation): OPEN, unless already seen further."""
        now = self._clock.now()
        before = self._orders.get(order_id)
        if before is not None:
            if before.placed_by != THIS_SYSTEM:
                self._orders[order_id] = replace(before, placed_by=THIS_SYSTEM)
                self._save_or_log()
            return False
        after = Known(
            order_id=order_id,
            account_id_key=account_id_key,
            symbol=symbol,
            action=action,
            quantity=quantity,
            status="OPEN",
            filled_quantity="0",
            average_price="",
            placed_by=THIS_SYSTEM,
            placed_at_unix_ms=placed_at_unix_ms,
            executed_at_unix_ms=0,
            seen_at=now,
        )
        self._orders[order_id] = after
        return self._commit([(after, None, True)], now)

    def cancel_requested(self, account_id_key: str, order_id: int) -> bool:
        """E*TRADE accepted a cancel request of ``order_id``."""
        before = self._orders.get(order_id)
        if before is None or not before.working or before.status == "CANCEL_REQUESTED":
            return False
        now = self._clock.now()
        after = replace(before, status="CANCEL_REQUESTED", seen_at=now)
        self._orders[order_id] = after
        return self._commit([(after, before, True)], now)

    def forget(self, order_id: int) -> None:
        """Stop tracking an order E*TRADE no longer knows."""
        if self._orders.pop(order_id, None) is not None:
            self._save_or_log()

    def _news(self, account_id_key: str, order: Known) -> bool:
        baseline = self._baselines.get(account_id_key)
        if baseline is None:
            return False  # the first look at an account: everything there is the starting point
        if order.working:
            return True
        closed_ms = order.executed_at_unix_ms or order.placed_at_unix_ms
        return closed_ms / 1000 >= baseline - BASELINE_TOLERANCE_SECONDS

    def _commit(self, changes: list[tuple[Known, Known | None, bool]], now: float) -> bool:
        """Record fills, persist, then publish: what was written is never announced twice."""
        if not changes:
            return False
        for after, before, announce in changes:
            if not announce:
                continue  # history found at the first look: listed by ListOrders, not news
            filled_before = _dec(before.filled_quantity) if before is not None else Decimal(0)
            if _dec(after.filled_quantity) > filled_before or (
                after.status == "EXECUTED" and (before is None or before.status != "EXECUTED")
            ):
                self._fills.append(
                    Fill(
                        account_id_key=after.account_id_key,
                        order_id=after.order_id,
                        symbol=after.symbol,
                        action=after.action,
                        ordered_quantity=after.quantity,
                        filled_quantity=after.filled_quantity,
                        average_price=after.average_price,
                        status=after.status,
                        placed_by=after.placed_by,
                        executed_at_unix_ms=after.executed_at_unix_ms,
                        noticed_at_unix_ms=int(now * 1000),
                    )
                )
        self._prune(now)
        self._save_or_log()
        for after, before, announce in changes:
            if after.working:
                for listener in self._listeners:
                    listener(after)
            if announce:
                self._publish(after, before)
        return True

    def _publish(self, order: Known, before: Known | None) -> None:
        log.info(
            "orders: order %d %s -> %s (filled %s of %s)",
            order.order_id,
            before.status if before is not None else "new",
            order.status,
            order.filled_quantity,
            order.quantity,
        )
        if self._events is None:
            return
        attributes = {
            "order_id": str(order.order_id),
            "status": order.status,
            "previous_status": before.status if before is not None else "",
            "symbol": order.symbol,
            "side": order.action,
            "quantity": order.quantity,
            "filled_quantity": order.filled_quantity,
            "placed_by": order.placed_by,
        }
        if order.average_price:
            attributes["average_price"] = order.average_price
        self._events.publish(EventKind.ORDER_STATUS_CHANGED, order.account_id_key, **attributes)
        self.published += 1

    def _prune(self, now: float) -> None:
        """Forget closed orders that can no longer appear in the watcher's listing, and old fills."""
        horizon_ms = (now - self._keep_seconds) * 1000
        for order_id, known in list(self._orders.items()):
            if not known.working and max(known.placed_at_unix_ms, known.seen_at * 1000) < horizon_ms:
                del self._orders[order_id]
        self._fills = [f for f in self._fills if f.noticed_at_unix_ms >= horizon_ms][-self._max_fills :]


__all__ = ["FILE_NAME", "OUTSIDE", "THIS_SYSTEM", "Fill", "Known", "OrderTracker", "is_working"]
