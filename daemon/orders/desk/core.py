"""What every part of the order desk shares: the stores, the one I/O thread, the tasks that must
finish, the audit recorder, events and notifications, and the requests in flight.

Invariants kept here:

- the journal and the audit log are written from one thread, in the order the loop asked;
- a claimed send runs as a task :meth:`DeskCore.spawn` tracks, so shutdown waits for its outcome;
- :class:`InFlight` knows every place or cancel claimed and not yet finished sending: no second
  request for that account and symbol is claimed meanwhile, and a SENDING journal entry whose
  pending id it does not know was stranded (its outcome could not be recorded).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from broker_client.errors import BrokerError, ErrorCode, InternalError, PolicyRefused
from daemon.audit import AuditRecorder
from daemon.clock import Clock
from daemon.events import EventBus, EventKind
from daemon.orders.journal import Entry, EntryState, Journal
from daemon.orders.pending import PendingOrder, PendingStore
from daemon.orders.tracker import OrderTracker

log = logging.getLogger(__name__)

T = TypeVar("T")


class DeskCore:
    """The shared state and plumbing of the order desk's parts (see the module docstring)."""

    def __init__(
        self,
        *,
        clock: Clock,
        journal: Journal,
        pending: PendingStore,
        tracker: OrderTracker,
        io: ThreadPoolExecutor,
        recorder: AuditRecorder,
        notifier: Callable[[str, str], bool],
        events: EventBus | None,
        account_changed: Callable[[str], None],
    ) -> None:
        self.clock = clock
        self.journal = journal
        self.pending = pending
        self.tracker = tracker
        self.recorder = recorder
        self.notifier = notifier
        self._events = events
        self._io = io
        self._account_changed = account_changed
        self.tasks: set[asyncio.Task[Any]] = set()

    async def run_io(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._io, fn, *args)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.create_task(coro)
        self.tasks.add(task)

        def done(finished: asyncio.Task[T]) -> None:
            self.tasks.discard(finished)
            if not finished.cancelled():
                finished.exception()  # retrieved: the outcome is in the journal and the audit log

        task.add_done_callback(done)
        return task

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def publish(self, kind: EventKind, subject: str, **attributes: str) -> None:
        """Tell subscribers (the MCP proxies' live updates) what changed. Never a code."""
        if self._events is not None:
            self._events.publish(kind, subject, **attributes)

    def attention(self, entry: Entry, reason: str) -> None:
        """A journal entry needs the operator: tell the notification channels (no code, no secret)."""
        self.publish(
            EventKind.JOURNAL_ATTENTION,
            str(entry.id),
            reason=reason,
            entry_kind=entry.kind.value,
            action=str(entry.action),
            quantity=str(entry.quantity),
            symbol=str(entry.symbol),
        )

    def notify(self, title: str, body: str) -> None:
        """Best effort, off the loop; the text goes to the desktop only, never to a log."""

        async def show() -> None:
            await asyncio.to_thread(self.notifier, title, body)

        self.spawn(show())

    def account_changed(self, key: str) -> None:
        """Order activity moves cash and positions: no client may see a cached balance from before."""
        self._account_changed(key)

    async def record(self, event: str, data: dict[str, Any]) -> None:
        """Audit an event where a failure to audit must not fail the caller (logins, outcomes)."""
        await self.recorder.record(event, data)

    async def audit_or_discard(self, pending: PendingOrder, event: str, data: dict[str, Any]) -> None:
        """Audit a new pending request; if that fails, it is discarded: nothing is confirmable off the record."""
        try:
            await self.recorder.append(event, data)
        except Exception as exc:
            # The operator may have confirmed it in the milliseconds the write took; then it is sent.
            with contextlib.suppress(BrokerError):
                self.pending.reject(pending.id)
            log.exception("audit: could not record %s; pending %s discarded", event, pending.id)
            raise InternalError(
                ErrorCode.INTERNAL, "the audit log could not be written; the request was discarded and nothing was sent"
            ) from exc


def pair_of(pending: PendingOrder) -> tuple[str, str]:
    """The account and symbol a pending place or cancel is about."""
    if pending.order is not None:
        return pending.order.account_id_key, pending.order.symbol
    assert pending.cancel is not None
    return pending.cancel.account_id_key, pending.cancel.order.symbol


class InFlight:
    """The place and cancel requests between their claim and their recorded outcome (memory only)."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        # pending id -> (account, symbol) of every place or cancel claimed and not yet finished sending
        # (journaled or not): no second order for that pair is claimed meanwhile, and a SENDING journal
        # entry whose pending id is not here was stranded (its outcome could not be recorded).
        self.sending: dict[str, tuple[str, str]] = {}
        # journal entry -> the order id E*TRADE gave it, for entries whose PLACED write failed:
        # reconciliation records it from here rather than matching by details.
        self.unrecorded_order_ids: dict[int, int] = {}
        # journal entries whose request E*TRADE answered with a 401: it never acted on them, so their
        # order list settles them at once (no grace period for a request that could still surface).
        self.answered_401: set[int] = set()

    def stranded(self, entry: Entry) -> bool:
        """SENDING, but no send of this daemon is working on it: its outcome was never recorded."""
        return entry.state is EntryState.SENDING and entry.pending_id not in self.sending

    def refuse_if_unsettled(self, key: str, symbol: str) -> None:
        """No new order for an account and symbol while an earlier request's outcome is open.

        Synchronous (memory only), so a claim can check it in the same step as it claims: a human
        who approves a second order believing the first failed must not get two.
        """
        if (key, symbol) in self.sending.values():
            raise PolicyRefused(
                ErrorCode.OUTCOME_UNRESOLVED,
                f"another request for {symbol} in this account is being sent right now; "
                "try again once it has E*TRADE's answer",
            )
        entry = self._journal.unsettled(key, symbol)
        if entry is not None:
            what = "is still in flight" if entry.state is EntryState.SENDING else "has an unknown outcome"
            raise PolicyRefused(
                ErrorCode.OUTCOME_UNRESOLVED,
                f"journal entry {entry.id} ({entry.kind.value} {entry.action} {entry.quantity} {entry.symbol}) "
                f"{what}; nothing more is sent for this symbol until it is settled (`etradectl orders journal`)",
            )
