"""The journal's operations: settling at start-up what a previous run left in flight, the
reconciliation loop, and what the operator does with entries (look, acknowledge, resolve) and
with pending approvals (reject).

Invariant: an unknown outcome is never re-sent. It is reconciled against E*TRADE's order list — at
start-up, after the failure, periodically, before the next preview and whenever the operator
looks — and reported (journal, audit log, log line, desktop notification). Only a request E*TRADE
refused at the door (a 401) gets its approval back when the list shows nothing happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from broker_client.errors import BrokerError, ErrorCode, InvalidRequest, NotFound
from daemon.clock import last_midnight_et
from daemon.events import EventKind
from daemon.orders.desk.config import ReconcileConfig
from daemon.orders.desk.core import DeskCore, InFlight
from daemon.orders.desk.reads import OrderReads
from daemon.orders.desk.reconcile import Outcome, settle_cancel, settle_place
from daemon.orders.desk.tally import DailyTally
from daemon.orders.journal import OPEN_STATES, Entry, EntryKind, EntryState
from daemon.orders.model import Order
from daemon.orders.pending import PendingOrder

log = logging.getLogger(__name__)


class JournalDesk:
    """Reconciliation and the operator's journal commands. ``start()`` before use, ``stop()`` at the end."""

    def __init__(
        self, core: DeskCore, reads: OrderReads, in_flight: InFlight, tally: DailyTally, config: ReconcileConfig
    ) -> None:
        self._core = core
        self._journal = core.journal
        self._reads = reads
        self._in_flight = in_flight
        self._tally = tally
        self._config = config
        self._wake: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._loop_task: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Settle what a previous run left in flight, load today's tally, start reconciling."""
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        now = self._core.clock.now()
        interrupted = await self._core.run_io(self._journal.mark_interrupted, now)
        for entry in interrupted:
            log.warning(
                "journal: entry %d (%s %s %s %s) was in flight when the daemon stopped; outcome unknown, "
                "reconciling against E*TRADE's order list (it is never re-sent)",
                entry.id,
                entry.kind.value,
                entry.action,
                entry.quantity,
                entry.symbol,
            )
            await self._core.record("journal.interrupted", {"entry": entry.id, "kind": entry.kind.value})
            self._core.attention(entry, "the daemon stopped while it was in flight; outcome unknown")
        since = last_midnight_et(now) - 86_400
        self._tally.load(await self._core.run_io(self._journal.placed_since, since))
        self._loop_task = asyncio.create_task(self._reconcile_loop(), name="orders-reconcile")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)

    def wake(self) -> None:
        """Reconcile soon (an outcome just became unknown, or could not be recorded)."""
        if self._wake is not None:
            self._wake.set()

    @property
    def started(self) -> bool:
        return self._wake is not None

    # -- the operator ------------------------------------------------------------------------
    async def reject(self, pending_id: str, *, client: str = "") -> PendingOrder:
        """The operator says no: to a waiting order, or to an approval held while a 401's outcome is checked."""
        pending = self._core.pending.reject(pending_id, sending=pending_id in self._in_flight.sending)
        await self._core.record("confirmation.rejected", {"pending_id": pending.id, "client": client})
        log.info("orders: pending %s rejected by the operator", pending.id)
        self._core.publish(EventKind.PENDING_ORDERS_CHANGED, pending.id, change="rejected")
        return pending

    async def report(self, *, everything: bool, limit: int = 100) -> tuple[list[Entry], str]:
        """Reconcile first (the operator looking is an opportunity), then the entries to show."""
        problem = ""
        try:
            await self.reconcile()
        except BrokerError as exc:
            problem = f"could not check E*TRADE's order list: {exc.message}"
        if everything:
            return await self._core.run_io(lambda: self._journal.entries(limit=limit)), problem
        return await self._core.run_io(self._journal.attention), problem

    async def acknowledge(self, entry_id: int, *, client: str = "") -> Entry:
        entry = await self._core.run_io(self._journal.get, entry_id)
        if entry.state is EntryState.SENDING and not self._in_flight.stranded(entry):
            raise InvalidRequest(
                ErrorCode.INVALID_ARGUMENT, f"entry {entry_id} is being sent right now; look again in a moment"
            )
        if entry.state in OPEN_STATES:
            raise InvalidRequest(
                ErrorCode.INVALID_ARGUMENT,
                f"entry {entry_id}'s outcome is still unknown; record it with `etradectl orders resolve {entry_id}`",
            )
        acknowledged = await self._core.run_io(self._journal.acknowledge, entry_id)
        await self._core.record("journal.acknowledged", {"entry": entry_id, "client": client})
        return acknowledged

    async def resolve_entry(self, entry_id: int, *, order_id: int, not_placed: bool, client: str = "") -> Entry:
        """The operator checked at E*TRADE and says what became of an unknown outcome."""
        entry = await self._core.run_io(self._journal.get, entry_id)
        if entry.state is not EntryState.UNKNOWN and not self._in_flight.stranded(entry):
            raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, f"entry {entry_id} is {entry.state.value}, not UNKNOWN")
        if not_placed == bool(order_id):
            raise InvalidRequest(
                ErrorCode.INVALID_ARGUMENT, "say either the order id it became, or that it was not placed"
            )
        placed = entry.kind is EntryKind.PLACE
        if not_placed:
            state = EntryState.NOT_PLACED if placed else EntryState.NOT_CANCELLED
            detail = "the operator found it did not take effect"
        else:
            if placed and order_id in await self._core.run_io(self._journal.claimed_order_ids):
                raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, f"order {order_id} already belongs to another entry")
            state = EntryState.PLACED if placed else EntryState.CANCEL_ACCEPTED
            detail = f"the operator found it as order {order_id}"
        await self._core.run_io(
            lambda: self._journal.resolve(
                entry_id, state, at=self._core.clock.now(), order_id=order_id or None, detail=detail, reconciled=True
            )
        )
        resolved = await self._core.run_io(self._journal.acknowledge, entry_id)
        await self._core.record(
            "journal.resolved", {"entry": entry_id, "state": state.value, "order_id": order_id, "client": client}
        )
        return resolved

    # -- reconciliation ----------------------------------------------------------------------
    async def _reconcile_loop(self) -> None:
        assert self._wake is not None
        while True:
            try:
                await self.reconcile()
            except BrokerError as exc:
                log.info("journal: reconciliation postponed: %s", exc.message)
            except Exception:
                log.exception("journal: reconciliation failed")
            # asyncio.timeout rather than wait_for: on 3.11 wait_for can swallow a cancellation that
            # arrives as the timeout fires, and stop() would then wait for a loop that never ends.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._config.interval_seconds):
                    await self._wake.wait()
            self._wake.clear()

    async def reconcile_before_trading(self) -> None:
        """The next opportunity: before another preview, settle what can be settled (quietly)."""
        entries = await self._core.run_io(self._journal.in_states, *OPEN_STATES)
        if not any(e.state is EntryState.UNKNOWN or self._in_flight.stranded(e) for e in entries):
            return
        try:
            await self.reconcile()
        except BrokerError as exc:
            log.info("journal: reconciliation before the preview failed: %s", exc.message)
        except Exception:
            # Best effort: what stays unsettled still refuses the preview just after this.
            log.exception("journal: reconciliation before the preview failed")

    async def reconcile(self) -> list[Entry]:
        """Look up every UNKNOWN (or stranded SENDING) entry at E*TRADE; record what can be told.

        Returns the changed entries.
        """
        assert self._lock is not None, "start() first"
        async with self._lock:
            open_entries = await self._core.run_io(lambda: self._journal.in_states(*OPEN_STATES))
            unknown = [e for e in open_entries if e.state is EntryState.UNKNOWN or self._in_flight.stranded(e)]
            if not unknown:
                return []
            now = self._core.clock.now()
            claimed = await self._core.run_io(self._journal.claimed_order_ids)
            changed: list[Entry] = []
            by_account: dict[str, list[Order]] = {}
            for entry in unknown:
                known = self._in_flight.unrecorded_order_ids.get(entry.id)
                if entry.kind is EntryKind.PLACE and known is not None:
                    outcome = Outcome(
                        EntryState.PLACED,
                        f"placed as order {known}; the journal could not record it at the time",
                        order_id=known,
                    )
                    claimed.add(known)
                elif entry.kind is EntryKind.PLACE:
                    if entry.account_id_key not in by_account:
                        by_account[entry.account_id_key] = await self._reads.recent_orders(
                            entry.account_id_key, unknown
                        )
                    outcome = settle_place(
                        entry, by_account[entry.account_id_key], claimed, now=now, grace_seconds=self._grace(entry)
                    )
                    if outcome.order_id is not None:
                        claimed.add(outcome.order_id)
                else:
                    try:
                        target: Order | None = await self._reads.get_order(entry.account_id_key, entry.order_id or 0)
                    except NotFound:
                        target = None
                    outcome = settle_cancel(entry, target, now=now, grace_seconds=self._grace(entry))
                updated = await self._apply(entry, outcome, now)
                if updated is not None:
                    changed.append(updated)
                    if updated.state not in OPEN_STATES:
                        self._in_flight.unrecorded_order_ids.pop(entry.id, None)
            return changed

    def _grace(self, entry: Entry) -> float:
        """How long an entry not found at E*TRADE stays UNKNOWN: none for a request E*TRADE refused at the door."""
        return 0.0 if entry.id in self._in_flight.answered_401 else self._config.grace_seconds

    async def _apply(self, entry: Entry, outcome: Outcome, now: float) -> Entry | None:
        same = (
            outcome.state is entry.state
            and outcome.detail == entry.detail
            and tuple(outcome.candidates) == entry.candidate_ids
        )
        if same:
            return None
        updated = await self._core.run_io(
            lambda: self._journal.resolve(
                entry.id,
                outcome.state,
                at=now,
                detail=outcome.detail,
                order_id=outcome.order_id,
                reconciled=outcome.reconciled,
                candidates=outcome.candidates,
            )
        )
        log.warning("journal: entry %d reconciled: %s — %s", entry.id, outcome.state.value, outcome.detail)
        await self._core.record(
            "journal.reconciled",
            {"entry": entry.id, "state": outcome.state.value, "order_id": outcome.order_id, "detail": outcome.detail},
        )
        answered_401 = entry.id in self._in_flight.answered_401
        if outcome.state not in OPEN_STATES:
            self._in_flight.answered_401.discard(entry.id)
        if outcome.reconciled and outcome.state in (EntryState.NOT_PLACED, EntryState.NOT_CANCELLED):
            self._tally.forget(entry.pending_id)  # nothing happened: it does not count against today
        if outcome.reconciled and outcome.state in (EntryState.NOT_PLACED, EntryState.NOT_CANCELLED) and answered_401:
            # Only a request E*TRADE refused at the door gets its approval back: one that timed out may
            # still surface late, and the grace period that settled it is no proof.
            released = self._core.pending.release(entry.pending_id)
            if released is not None:
                log.info("orders: pending %s can be confirmed again (E*TRADE never acted on it)", released.id)
                await self._core.record("confirmation.released", {"pending_id": released.id, "entry": entry.id})
                self._core.publish(EventKind.PENDING_ORDERS_CHANGED, released.id, change="released")
        if outcome.state not in OPEN_STATES and not answered_401:
            self._core.pending.settle(entry.pending_id)
        if outcome.reconciled:
            self._core.notify("etrade-mcp: order outcome settled", f"Journal entry {entry.id}: {outcome.detail}")
            self._core.attention(entry, f"outcome settled from E*TRADE's order list: {outcome.detail}")
            if outcome.state is EntryState.PLACED and outcome.order_id is not None:
                self._core.account_changed(entry.account_id_key)
                self._core.tracker.placed(
                    entry.account_id_key,
                    outcome.order_id,
                    symbol=entry.symbol,
                    action=entry.action,
                    quantity=entry.quantity,
                    placed_at_unix_ms=int(entry.created_at * 1000),
                )
        return updated
