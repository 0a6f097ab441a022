"""Orders, orchestrated: preview → pending confirmation → journaled place or cancel → reconciliation.

:class:`OrderService` is the facade the servicers call; the work is done by small parts in
``daemon/orders/desk/``, each given only the settings it needs:

- ``core``         the shared stores, the one I/O thread, audit recording, events, the requests in flight;
- ``trading``      read-only, halt/resume and the circuit breaker;
- ``tally``        today's orders for the daily limits;
- ``reads``        list/get (feeding the tracker) and the Orders module's request path;
- ``preview``      previews and cancel requests becoming pending confirmations;
- ``send``         place and cancel: the claim, the re-check, the journaled at-most-once send, 401s;
- ``journal_ops``  start-up settling, the reconcile loop, the operator's journal commands;
- ``placement``, ``reconcile``  the pure checks and matching those parts use.

The invariants the desk keeps (tests in ``tests/unit/daemon/test_orders_*.py`` and ``tests/rpc/daemon/test_orders_*.py`` prove each):

1. Nothing order-changing happens in read-only mode or while trading is halted.
2. Every preview is validated and risk-checked before E*TRADE is asked, and E*TRADE is asked before
   a human is asked.
3. An order is sent only after a human approved *that* order: a correct, unexpired, unused code for
   its pending id (the model relays it), or the operator's confirmation in etradectl. The claim is
   atomic on the event loop, so concurrent confirmations send at most one request.
   When the code is claimed, the order is judged again against a fresh quote (drift since the
   preview, price band, value cap, daily limits, buying power): a market that moved refuses it,
   with nothing sent.
4. A journal entry is durable before the request leaves; the outcome is recorded whatever happens
   to the caller (the send runs in a shielded task: a gRPC deadline cannot cut it in half).
5. A place or cancel request is sent at most once per approval, whatever the answer: after a 401
   the session is renewed and E*TRADE's order list is checked at once; a request E*TRADE never
   acted on gives the approval back (same code, same expiry). An unknown outcome is never retried. It is reconciled against E*TRADE's order list — at start-up,
   after the failure, periodically, before the next preview and whenever the operator looks — and
   reported (journal, audit log, log line, desktop notification).
6. Everything lands in the hash-chained audit log; confirmation codes land nowhere.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from daemon.accounts.accounts import AccountsData
from daemon.audit import FILE_NAME as AUDIT_FILE
from daemon.audit import HEAD_KEY, AuditEntry, AuditLog, AuditRecorder, Verification
from daemon.clock import Clock
from daemon.etrade.upstream import EtradeHttp
from daemon.events import EventBus
from daemon.gateway.gateway import EtradeGateway
from daemon.host import notify
from daemon.market.market import MarketData
from daemon.orders.breaker import HaltState, Problem
from daemon.orders.desk.config import configs_from
from daemon.orders.desk.core import DeskCore, InFlight
from daemon.orders.desk.journal_ops import JournalDesk
from daemon.orders.desk.preview import PreviewDesk, confirm_instructions
from daemon.orders.desk.reads import OrderReads, OrdersUpstream
from daemon.orders.desk.send import CancelledOrder, PlacedOrder, SendDesk
from daemon.orders.desk.tally import DailyTally
from daemon.orders.desk.trading import TradingGate, TradingState
from daemon.orders.journal import FILE_NAME as JOURNAL_FILE
from daemon.orders.journal import Entry, Journal
from daemon.orders.model import Order
from daemon.orders.pending import PendingOrder, PendingStore
from daemon.orders.tracker import FILE_NAME as STATUSES_FILE
from daemon.orders.tracker import OrderTracker
from daemon.orders.validation import OrderInput
from daemon.settings import Settings

log = logging.getLogger(__name__)

#: How long shutdown waits for an in-flight place or cancel to record its outcome.
SHUTDOWN_GRACE_SECONDS = 20.0


class OrderService:
    """The daemon's order desk. Construct once (opens the journal), ``await start()``, ``await close()``."""

    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        gateway: EtradeGateway,
        http: EtradeHttp,
        market: MarketData,
        accounts: AccountsData,
        state_dir: Path,
        notifier: Callable[[str, str], bool] = notify.notify,
        events: EventBus | None = None,
    ) -> None:
        configs = configs_from(settings)
        self.journal = Journal(state_dir / JOURNAL_FILE)
        self.audit = AuditLog(
            state_dir / AUDIT_FILE,
            head_get=lambda: self.journal.get_control(HEAD_KEY),
            head_set=lambda value: self.journal.set_control(HEAD_KEY, value),
        )
        # One thread for the journal and the audit log: their writes stay in order, the loop stays free.
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orders-io")
        self.pending = PendingStore(
            clock,
            ttl_seconds=configs.core.confirmation_ttl_seconds,
            max_attempts=configs.core.confirmation_attempts,
            max_waiting=configs.core.max_pending_orders,
        )
        # Every order's last-known status (persisted): the one place ORDER_STATUS_CHANGED is published,
        # whoever saw the change (a client's listing, the fill watcher, a placement, a reconciliation).
        self.tracker = OrderTracker(
            state_dir / STATUSES_FILE, clock, events, keep_seconds=configs.core.tracker_keep_seconds
        )
        self.tracker.load()
        # Shared with logins and the operator's commands (they audit through :meth:`record`).
        self.recorder = AuditRecorder(self.audit, self._io, lambda: int(clock.now() * 1000))
        self._core = DeskCore(
            clock=clock,
            journal=self.journal,
            pending=self.pending,
            tracker=self.tracker,
            io=self._io,
            recorder=self.recorder,
            notifier=notifier,
            events=events,
            account_changed=accounts.invalidate_after_order_activity,
        )
        in_flight = InFlight(self.journal)
        self._gate = TradingGate(self._core, configs.trading)
        self.switch, self.breaker, self.policy = self._gate.switch, self._gate.breaker, self._gate.policy
        self._tally = DailyTally(clock, configs.risk)
        self.risk_limits = configs.risk
        upstream = OrdersUpstream(gateway, http, configs.upstream)
        self._reads = OrderReads(upstream, clock, self.tracker, self._core.account_changed)
        self._journal_desk = JournalDesk(self._core, self._reads, in_flight, self._tally, configs.reconcile)
        parts: dict[str, Any] = {
            "core": self._core,
            "gate": self._gate,
            "tally": self._tally,
            "in_flight": in_flight,
            "journal": self._journal_desk,
            "upstream": upstream,
            "reads": self._reads,
            "market": market,
            "accounts": accounts,
        }
        self._preview = PreviewDesk(**parts, config=configs.preview)
        self._send = SendDesk(**parts, config=configs.send)

    @property
    def notifier(self) -> Callable[[str, str], bool]:
        return self._core.notifier

    @notifier.setter
    def notifier(self, notifier: Callable[[str, str], bool]) -> None:
        self._core.notifier = notifier

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Settle what a previous run left in flight, load today's tally, start reconciling."""
        await self._journal_desk.start()
        if self.switch.halted:
            log.warning(
                "trading: halted since a previous run (%s); `etradectl resume` ends it", self.switch.state.reason
            )

    async def close(self) -> None:
        """Let in-flight requests record their outcome (bounded), then stop."""
        await self._journal_desk.stop()
        if self._core.tasks:
            await asyncio.wait(list(self._core.tasks), timeout=SHUTDOWN_GRACE_SECONDS)
        self._io.shutdown(wait=True)
        self.journal.close()

    async def drain(self) -> None:
        """Wait until every in-flight place or cancel has recorded its outcome."""
        while self._core.tasks:
            await asyncio.wait(list(self._core.tasks))

    # -- audit -------------------------------------------------------------------------------
    async def record(self, event: str, data: dict[str, Any]) -> None:
        """Audit an event where a failure to audit must not fail the caller (logins, outcomes)."""
        await self._core.record(event, data)

    async def audit_entries(self, *, limit: int, after_seq: int) -> list[AuditEntry]:
        return await self._core.recorder.entries(limit=limit, after_seq=after_seq)

    async def verify_audit(self) -> Verification:
        return await self._core.recorder.verify()

    # -- trading state -----------------------------------------------------------------------
    async def halt(self, reason: str, *, by: str, problems: tuple[Problem, ...] = ()) -> HaltState:
        return await self._gate.halt(reason, by=by, problems=problems)

    async def resume(self, *, by: str) -> HaltState:
        return await self._gate.resume(by=by)

    async def trading_state(self) -> TradingState:
        return await self._gate.state()

    async def attention(self) -> int:
        """Journal entries that need the operator."""
        return await self._gate.attention()

    # -- reads -------------------------------------------------------------------------------
    async def list_orders(
        self,
        account_id_key: str,
        *,
        status: str = "",
        from_date: str = "",
        to_date: str = "",
        symbol: str = "",
        limit: int = 25,
    ) -> list[Order]:
        """E*TRADE's orders of one account, newest first, across its pages (at most ``limit``)."""
        return await self._reads.list_orders(
            account_id_key, status=status, from_date=from_date, to_date=to_date, symbol=symbol, limit=limit
        )

    async def watch_orders(self, account_id_key: str, params: dict[str, str]) -> list[Order]:
        """One page of an account's orders for the fill watcher (the tracker sees them on the way)."""
        return await self._reads.watch_orders(account_id_key, params)

    async def get_order(self, account_id_key: str, order_id: int) -> Order:
        return await self._reads.get_order(account_id_key, order_id)

    # -- preview, place, cancel --------------------------------------------------------------
    async def preview_order(self, raw: OrderInput, *, client: str = "") -> PendingOrder:
        """Validate, risk-check and preview at E*TRADE; create the pending confirmation."""
        return await self._preview.preview_order(raw, client=client)

    async def request_cancel(self, account_id_key: str, order_id: int, *, client: str = "") -> PendingOrder:
        """A pending cancel of an open order, with its own confirmation code."""
        return await self._preview.request_cancel(account_id_key, order_id, client=client)

    async def place_confirmed(self, pending_id: str, code: str, *, client: str = "") -> PlacedOrder:
        """Place the pending order if ``code`` is its confirmation code."""
        return await self._send.place_confirmed(pending_id, code, client=client)

    async def cancel_confirmed(self, pending_id: str, code: str, *, client: str = "") -> CancelledOrder:
        return await self._send.cancel_confirmed(pending_id, code, client=client)

    async def operator_confirm(self, pending_id: str, digest: str, *, client: str = "") -> PlacedOrder | CancelledOrder:
        """The operator approved in etradectl, after seeing the order whose digest comes back."""
        return await self._send.operator_confirm(pending_id, digest, client=client)

    # -- the operator and the journal --------------------------------------------------------
    async def reject(self, pending_id: str, *, client: str = "") -> PendingOrder:
        """The operator says no: to a waiting order, or to an approval held while a 401's outcome is checked."""
        return await self._journal_desk.reject(pending_id, client=client)

    async def journal_report(self, *, everything: bool, limit: int = 100) -> tuple[list[Entry], str]:
        """Reconcile first (the operator looking is an opportunity), then the entries to show."""
        return await self._journal_desk.report(everything=everything, limit=limit)

    async def acknowledge(self, entry_id: int, *, client: str = "") -> Entry:
        return await self._journal_desk.acknowledge(entry_id, client=client)

    async def resolve_entry(self, entry_id: int, *, order_id: int, not_placed: bool, client: str = "") -> Entry:
        """The operator checked at E*TRADE and says what became of an unknown outcome."""
        return await self._journal_desk.resolve_entry(entry_id, order_id=order_id, not_placed=not_placed, client=client)

    async def reconcile(self) -> list[Entry]:
        """Look up every UNKNOWN (or stranded SENDING) entry at E*TRADE; record what can be told."""
        return await self._journal_desk.reconcile()


__all__ = ["CancelledOrder", "OrderService", "PlacedOrder", "TradingState", "confirm_instructions"]
