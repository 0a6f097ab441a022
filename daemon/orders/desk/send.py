"""The send desk: a human's approval becomes exactly one place or cancel request.

Invariants (tests in ``tests/unit/daemon/test_orders_*.py`` and ``tests/rpc/daemon/test_orders_*.py`` prove each):

- An order is sent only after a human approved *that* order: a correct, unexpired, unused code for
  its pending id, or the operator's confirmation in etradectl. The claim is atomic on the event
  loop (:meth:`SendDesk._claim` has no ``await``), so concurrent confirmations send at most one
  request, and cannot overshoot the daily limits either.
- When the code is claimed, the order is judged again against a fresh quote (drift since the
  preview, price band, value cap, daily limits, buying power): a market that moved refuses it,
  with nothing sent.
- A journal entry is durable before the request leaves; the outcome is recorded whatever happens
  to the caller (the send runs in a shielded task: a gRPC deadline cannot cut it in half).
- A place or cancel request is sent at most once per approval, whatever the answer: after a 401
  the session is renewed and E*TRADE's order list is checked at once; a request E*TRADE never
  acted on gives the approval back (same code, same expiry). An unknown outcome is never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from broker_client.errors import (
    BrokerError,
    ErrorCode,
    InternalError,
    NotFound,
    PolicyRefused,
    RateLimited,
    SessionError,
    UpstreamError,
    make_error,
)
from daemon.accounts.accounts import AccountsData
from daemon.clock import iso_et
from daemon.etrade.upstream import EtradeApiError
from daemon.events import EventKind
from daemon.market.market import MarketData
from daemon.market.market_hours import in_regular_session
from daemon.orders import etrade, risk
from daemon.orders.desk import placement
from daemon.orders.desk.config import SendConfig
from daemon.orders.desk.core import DeskCore, InFlight, pair_of
from daemon.orders.desk.journal_ops import JournalDesk
from daemon.orders.desk.reads import OrderReads, OrdersUpstream
from daemon.orders.desk.tally import DailyTally
from daemon.orders.desk.trading import NotCounted, TradingGate
from daemon.orders.journal import Entry, EntryKind, EntryState, NewEntry
from daemon.orders.model import EtradeMessage, decimal_text
from daemon.orders.pending import PendingKind, PendingOrder, PendingState
from daemon.orders.validation import reference_price
from daemon.session import RefusedAtAuthentication

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class PlacedOrder:
    order_id: int
    journal_entry: int
    placed_at_unix_ms: int
    messages: tuple[EtradeMessage, ...]
    pending: PendingOrder


@dataclass(frozen=True)
class CancelledOrder:
    order_id: int
    journal_entry: int
    cancel_time_unix_ms: int
    messages: tuple[EtradeMessage, ...]
    pending: PendingOrder


class SendDesk:
    def __init__(
        self,
        *,
        core: DeskCore,
        gate: TradingGate,
        tally: DailyTally,
        in_flight: InFlight,
        journal: JournalDesk,
        upstream: OrdersUpstream,
        reads: OrderReads,
        market: MarketData,
        accounts: AccountsData,
        config: SendConfig,
    ) -> None:
        self._core = core
        self._pending = core.pending
        self._gate = gate
        self._tally = tally
        self._in_flight = in_flight
        self._journal = journal
        self._upstream = upstream
        self._reads = reads
        self._market = market
        self._accounts = accounts
        self._config = config

    # -- the approvals -----------------------------------------------------------------------
    async def place_confirmed(self, pending_id: str, code: str, *, client: str = "") -> PlacedOrder:
        """Place the pending order if ``code`` is its confirmation code."""
        context = {"client": client, "pending_id": str(pending_id)[:40], "by": "code"}

        async def work() -> PlacedOrder:
            self._gate.gate()
            pending = self._claim(
                pending_id, lambda: self._pending.claim_with_code(pending_id, code, PendingKind.PLACE)
            )
            return await self._send_place(pending, by="code", client=client)

        return await self._gate.guard("place", context, work())

    async def cancel_confirmed(self, pending_id: str, code: str, *, client: str = "") -> CancelledOrder:
        context = {"client": client, "pending_id": str(pending_id)[:40], "by": "code"}

        async def work() -> CancelledOrder:
            self._gate.gate()
            pending = self._claim(
                pending_id, lambda: self._pending.claim_with_code(pending_id, code, PendingKind.CANCEL)
            )
            return await self._send_cancel(pending, by="code", client=client)

        return await self._gate.guard("cancel", context, work())

    async def operator_confirm(self, pending_id: str, digest: str, *, client: str = "") -> PlacedOrder | CancelledOrder:
        """The operator approved in etradectl, after seeing the order whose digest comes back."""
        context = {"client": client, "pending_id": str(pending_id)[:40], "by": "operator"}

        async def work() -> PlacedOrder | CancelledOrder:
            self._gate.gate()
            kind = self._pending.get(pending_id).kind
            pending = self._claim(pending_id, lambda: self._pending.claim_by_operator(pending_id, digest))
            if kind is PendingKind.PLACE:
                return await self._send_place(pending, by="operator", client=client)
            return await self._send_cancel(pending, by="operator", client=client)

        operation = "place" if self._kind_or_none(pending_id) is not PendingKind.CANCEL else "cancel"
        return await self._gate.guard(operation, context, work())

    def _kind_or_none(self, pending_id: str) -> PendingKind | None:
        try:
            return self._pending.get(pending_id).kind
        except NotFound:
            return None

    def _claim(self, pending_id: str, claim: Callable[[], PendingOrder]) -> PendingOrder:
        """Claim atomically; an order also counts against today's limits in the same synchronous step
        (no ``await`` in between), so concurrent confirmations cannot overshoot them either."""
        peek = self._pending.get(pending_id)
        value = Decimal(peek.estimated_value or "0") if peek.kind is PendingKind.PLACE else None
        if value is not None and peek.state is PendingState.PENDING:
            self._tally.check(value)
            self._in_flight.refuse_if_unsettled(*pair_of(peek))
        pending = claim()
        self._in_flight.sending[pending.id] = pair_of(pending)
        if value is not None:
            self._tally.count(pending.id, value)
        self._core.publish(EventKind.PENDING_ORDERS_CHANGED, pending.id, change="confirmed")
        return pending

    async def _send_place(self, pending: PendingOrder, *, by: str, client: str) -> PlacedOrder:
        # Spawned at once after the (synchronous) claim and shielded: if the caller's deadline cancels
        # us, the placement still runs to its journaled end.
        return await asyncio.shield(
            self._core.spawn(self._finally_sent(pending, self._place(pending, by=by, client=client)))
        )

    async def _send_cancel(self, pending: PendingOrder, *, by: str, client: str) -> CancelledOrder:
        return await asyncio.shield(
            self._core.spawn(self._finally_sent(pending, self._cancel(pending, by=by, client=client)))
        )

    async def _finally_sent(self, pending: PendingOrder, send: Awaitable[T]) -> T:
        """Run a claimed request's send; whatever happens, it no longer holds its account and symbol."""
        try:
            return await send
        finally:
            self._in_flight.sending.pop(pending.id, None)

    # -- place -------------------------------------------------------------------------------
    async def _place(self, pending: PendingOrder, *, by: str, client: str) -> PlacedOrder:
        core = self._core
        await core.record("confirmation.accepted", {"pending_id": pending.id, "by": by, "client": client})
        order, preview = pending.order, pending.preview
        assert order is not None and preview is not None
        key = order.account_id_key
        await self._recheck_or_refuse(pending)
        canonical = order.canonical()
        entry = await core.run_io(
            core.journal.begin,
            NewEntry(
                kind=EntryKind.PLACE,
                pending_id=pending.id,
                digest=pending.digest,
                account_id_key=key,
                client_order_id=pending.client_order_id,
                symbol=order.symbol,
                action=canonical["action"],
                quantity=canonical["quantity"],
                price_type=canonical["price_type"],
                limit_price=canonical["limit_price"],
                stop_price=canonical["stop_price"],
                order_term=canonical["order_term"],
                market_session=canonical["market_session"],
                all_or_none=order.all_or_none,
                preview_ids=",".join(str(p) for p in preview.preview_ids),
                estimated_value=pending.estimated_value,
                created_at=core.clock.now(),
            ),
        )
        try:
            await core.recorder.append(
                "order.sending",
                {"entry": entry.id, "pending_id": pending.id, "client_order_id": pending.client_order_id},
            )
        except Exception as exc:
            await core.run_io(
                lambda: core.journal.resolve(
                    entry.id, EntryState.REJECTED, at=core.clock.now(), detail="not sent: the audit log failed"
                )
            )
            raise InternalError(ErrorCode.INTERNAL, "the audit log could not be written; nothing was sent") from exc
        body = etrade.place_body(order, pending.client_order_id, preview.preview_ids)
        try:
            payload = await self._upstream.send("POST", f"/v1/accounts/{key}/orders/place", body)
            result = etrade.parse_place(payload)
        except RefusedAtAuthentication as exc:
            return await self._place_refused_at_door(entry, pending, exc)
        except (EtradeApiError, SessionError, RateLimited) as exc:
            if isinstance(exc, EtradeApiError) and exc.http_status >= 500:
                raise await self._unknown(entry, pending, exc) from None
            reason = exc.message
            await core.run_io(
                lambda: core.journal.resolve(entry.id, EntryState.REJECTED, at=core.clock.now(), detail=reason)
            )
            self._tally.forget(pending.id)  # nothing was placed: it does not count against today
            self._pending.settle(pending.id)
            await core.record("order.rejected", {"entry": entry.id, "pending_id": pending.id, "reason": reason})
            raise
        except Exception as exc:  # timeouts, lost connections, unreadable answers: we cannot know
            raise await self._unknown(entry, pending, exc) from None
        await self._record_success(entry, EntryState.PLACED, result.order_id, "placed")
        self._pending.settle(pending.id)
        log.info("orders: placed order %d (journal entry %d): %s", result.order_id, entry.id, order.describe())
        await core.record(
            "order.placed",
            {"entry": entry.id, "pending_id": pending.id, "order_id": result.order_id, "order": canonical},
        )
        core.account_changed(key)
        core.tracker.placed(
            key,
            result.order_id,
            symbol=order.symbol,
            action=canonical["action"],
            quantity=canonical["quantity"],
            placed_at_unix_ms=result.placed_at_unix_ms,
        )
        return PlacedOrder(result.order_id, entry.id, result.placed_at_unix_ms, result.messages, pending)

    async def _recheck_or_refuse(self, pending: PendingOrder) -> None:
        """Judge the approved order against the market now, before anything is journaled or sent.

        A refusal voids the pending order (the human approved it in another market: preview again);
        a failure to look (rate limit, E*TRADE down) or a halt that arrived meanwhile gives the
        approval back for another try. Neither feeds the circuit breaker: the caller did nothing wrong.
        """
        try:
            await self._recheck(pending)
        except PolicyRefused as exc:
            self._pending.void(pending.id, f"refused when it was about to be sent: {exc.message}")
            self._tally.forget(pending.id)
            await self._core.record(
                "order.refused_at_placement",
                {"pending_id": pending.id, "code": exc.code.value, "reason": exc.message},
            )
            self._core.publish(EventKind.PENDING_ORDERS_CHANGED, pending.id, change="voided")
            log.warning("orders: pending %s refused at placement, nothing sent: %s", pending.id, exc.message)
            raise NotCounted(
                placement.PlacementRefused(
                    exc.code,
                    f"{exc.message}. Nothing was sent, and pending order {pending.id} is void: preview the order "
                    "again if it is still wanted",
                    hint=exc.hint,
                )
            ) from None
        except BrokerError as exc:
            raise NotCounted(
                self._give_back(
                    pending, f"the order could not be checked against the market before sending ({exc.message})", exc
                )
            ) from None
        try:
            # The re-check waited for E*TRADE: a halt (or read-only) that arrived meanwhile wins.
            self._gate.gate()
        except PolicyRefused as exc:
            raise NotCounted(self._give_back(pending, exc.message, exc)) from None

    def _give_back(self, pending: PendingOrder, why: str, exc: BrokerError) -> BrokerError:
        """Nothing was sent: the approval waits again (same code, same expiry), and the error says so."""
        self._tally.forget(pending.id)
        released = self._pending.release(pending.id)
        if released is not None:
            self._core.publish(EventKind.PENDING_ORDERS_CHANGED, pending.id, change="released")
            again = f"pending order {pending.id} can be confirmed again until {iso_et(released.expires_at)}"
        else:
            again = f"pending order {pending.id} expired meanwhile; preview the order again"
        return make_error(exc.code, f"{why}; nothing was sent, and {again}", hint=exc.hint, retry_after=exc.retry_after)

    async def _recheck(self, pending: PendingOrder) -> None:
        order = pending.order
        assert order is not None
        quote = await self._market.fresh_quote(order.symbol, self._upstream.deadline())
        now = reference_price(quote, order.action)
        if now is None:
            raise PolicyRefused(
                ErrorCode.PRICE_MOVED,
                f"E*TRADE has no live price for {order.symbol} now, so the approved order cannot be checked "
                "against the market",
            )
        if not pending.reference_price:
            raise PolicyRefused(ErrorCode.PRICE_MOVED, "the preview recorded no market price to compare with")
        placement.check_drift(order, Decimal(pending.reference_price), now, self._config.drift_percent)
        placement.check_session(order, in_regular_session(self._core.clock.now()))
        _, value = self._gate.policy.check_against_quote(order, quote)
        risk.refuse_on_hard(risk.daily(value, self._tally.today(excluding=pending.id), self._tally.limits))
        balance = await self._accounts.balance(order.account_id_key)
        risk.refuse_on_hard(risk.buying_power(order, value, balance))
        self._tally.revalue(pending.id, value)

    # -- outcomes ----------------------------------------------------------------------------
    async def _refused_at_door(self, entry: Entry, pending: PendingOrder, exc: RefusedAtAuthentication) -> Entry:
        """E*TRADE answered 401 to a place or cancel: it is never re-sent. Settle it from the order list now.

        The session was renewed where it could be; if E*TRADE's list shows nothing happened,
        reconciliation gives the human's approval back (see :meth:`JournalDesk._apply`).
        """
        core = self._core
        detail = f"{exc.message}; never re-sent: checking E*TRADE's order list"
        await core.run_io(
            lambda: core.journal.resolve(entry.id, EntryState.UNKNOWN, at=core.clock.now(), detail=detail)
        )
        self._in_flight.answered_401.add(entry.id)
        log.warning("journal: entry %d was refused at authentication (401); checking the order list", entry.id)
        await core.record(
            "order.refused_at_authentication", {"entry": entry.id, "pending_id": pending.id, "reason": exc.message}
        )
        if exc.session_usable:
            try:
                await self._journal.reconcile()
            except BrokerError as failure:
                log.info("journal: the order list could not be checked after the 401: %s", failure.message)
        else:
            self._journal.wake()
        return await core.run_io(core.journal.get, entry.id)

    def _not_received(self, verb: str, entry: Entry, pending: PendingOrder) -> BrokerError:
        again = self._pending.get(pending.id)
        if again.state is PendingState.PENDING:
            then = f"pending order {pending.id} can be confirmed again, once, until {iso_et(again.expires_at)}"
        else:
            then = f"pending order {pending.id} can no longer be confirmed ({again.state.value.lower()}); preview again"
        return UpstreamError(
            ErrorCode.REQUEST_NOT_RECEIVED,
            f"E*TRADE refused the {verb} request at authentication (HTTP 401) and its order list confirms it did "
            f"NOT take effect (journal entry {entry.id}); {then}",
        )

    def _still_unknown(
        self, verb: str, entry: Entry, pending: PendingOrder, exc: RefusedAtAuthentication
    ) -> UpstreamError:
        return UpstreamError(
            ErrorCode.ORDER_OUTCOME_UNKNOWN,
            f"E*TRADE refused the {verb} request at authentication (HTTP 401: {exc.message}); it is never re-sent, "
            f"and its order list could not be checked yet (journal entry {entry.id}). If the list shows it did not "
            f"take effect, pending order {pending.id} can be confirmed again until it expires; the operator can "
            f"withdraw that with `etradectl orders reject {pending.id}`",
            hint=exc.hint if not exc.session_usable else None,
        )

    async def _place_refused_at_door(
        self, entry: Entry, pending: PendingOrder, exc: RefusedAtAuthentication
    ) -> PlacedOrder:
        settled = await self._refused_at_door(entry, pending, exc)
        if settled.state is EntryState.PLACED and settled.order_id is not None:
            self._pending.settle(pending.id)
            placed_at = self._core.now_ms()
            with contextlib.suppress(BrokerError):
                placed_at = (await self._reads.get_order(entry.account_id_key, settled.order_id)).placed_at_unix_ms
            return PlacedOrder(settled.order_id, entry.id, placed_at, (), pending)
        if settled.state is EntryState.NOT_PLACED:
            raise self._not_received("place", entry, pending)
        raise NotCounted(self._still_unknown("place", entry, pending, exc))

    async def _record_success(self, entry: Entry, state: EntryState, order_id: int, detail: str) -> None:
        """Journal what E*TRADE accepted.

        If the journal cannot record it, the caller still hears the truth (not an internal error):
        the entry stays SENDING (stranded), keeps its symbol blocked, and reconciliation settles it,
        a placement from the order id remembered here.
        """
        core = self._core
        try:
            await core.run_io(
                lambda: core.journal.resolve(entry.id, state, at=core.clock.now(), order_id=order_id, detail=detail)
            )
        except Exception:
            log.exception(
                "journal: entry %d (%s, order %d) took effect but the journal could not record it",
                entry.id,
                detail,
                order_id,
            )
            if entry.kind is EntryKind.PLACE:
                self._in_flight.unrecorded_order_ids[entry.id] = order_id
            self._journal.wake()

    async def _unknown(self, entry: Entry, pending: PendingOrder, exc: BaseException) -> UpstreamError:
        core = self._core
        what = exc.message if isinstance(exc, BrokerError) else type(exc).__name__
        detail = f"no answer from E*TRADE ({what}); checking E*TRADE's order list — it is never re-sent"
        await core.run_io(
            lambda: core.journal.resolve(entry.id, EntryState.UNKNOWN, at=core.clock.now(), detail=detail)
        )
        log.warning("journal: entry %d has an UNKNOWN outcome: %s", entry.id, detail)
        core.attention(entry, f"no answer from E*TRADE ({what}); outcome unknown, never re-sent")
        core.account_changed(entry.account_id_key)  # it may have moved cash or positions
        await core.record("order.unknown", {"entry": entry.id, "pending_id": pending.id, "reason": what})
        core.notify(
            "etrade-mcp: order outcome unknown",
            f"Journal entry {entry.id}: {entry.kind.value} {entry.action} {entry.quantity} {entry.symbol}.\n"
            "It is never re-sent. See: etradectl orders journal",
        )
        self._journal.wake()
        verb = "place" if entry.kind is EntryKind.PLACE else "cancel"
        return UpstreamError(
            ErrorCode.ORDER_OUTCOME_UNKNOWN,
            f"E*TRADE's answer to the {verb} request did not arrive ({what}), so it may or may not have taken "
            f"effect (journal entry {entry.id})",
        )

    # -- cancel ------------------------------------------------------------------------------
    async def _cancel(self, pending: PendingOrder, *, by: str, client: str) -> CancelledOrder:
        core = self._core
        await core.record("confirmation.accepted", {"pending_id": pending.id, "by": by, "client": client})
        target = pending.cancel
        assert target is not None
        order = target.order
        entry = await core.run_io(
            core.journal.begin,
            NewEntry(
                kind=EntryKind.CANCEL,
                pending_id=pending.id,
                digest=pending.digest,
                account_id_key=target.account_id_key,
                client_order_id="",
                symbol=order.symbol,
                action=order.action,
                quantity=decimal_text(order.ordered_quantity),
                price_type=order.price_type,
                limit_price=decimal_text(order.limit_price),
                stop_price=decimal_text(order.stop_price),
                order_term=order.order_term,
                market_session=order.market_session,
                all_or_none=order.all_or_none,
                preview_ids="",
                estimated_value="0",
                created_at=core.clock.now(),
                order_id=order.order_id,
            ),
        )
        path = f"/v1/accounts/{target.account_id_key}/orders/cancel"
        try:
            payload = await self._upstream.send("PUT", path, etrade.cancel_body(order.order_id))
            result = etrade.parse_cancel(payload)
        except RefusedAtAuthentication as exc:
            settled = await self._refused_at_door(entry, pending, exc)
            if settled.state is EntryState.CANCEL_ACCEPTED:
                self._pending.settle(pending.id)
                return CancelledOrder(order.order_id, entry.id, core.now_ms(), (), pending)
            if settled.state is EntryState.NOT_CANCELLED:
                raise self._not_received("cancel", entry, pending) from None
            raise NotCounted(self._still_unknown("cancel", entry, pending, exc)) from None
        except (EtradeApiError, SessionError, RateLimited) as exc:
            if isinstance(exc, EtradeApiError) and exc.http_status >= 500:
                raise await self._unknown(entry, pending, exc) from None
            reason = exc.message
            await core.run_io(
                lambda: core.journal.resolve(entry.id, EntryState.REJECTED, at=core.clock.now(), detail=reason)
            )
            self._pending.settle(pending.id)
            await core.record("cancel.rejected", {"entry": entry.id, "pending_id": pending.id, "reason": reason})
            raise
        except Exception as exc:
            raise await self._unknown(entry, pending, exc) from None
        await self._record_success(entry, EntryState.CANCEL_ACCEPTED, order.order_id, "cancel accepted")
        self._pending.settle(pending.id)
        log.info("orders: cancel of order %d accepted (journal entry %d)", order.order_id, entry.id)
        await core.record(
            "order.cancel_accepted", {"entry": entry.id, "pending_id": pending.id, "order_id": order.order_id}
        )
        core.account_changed(target.account_id_key)
        if core.tracker.get(order.order_id) is None:
            core.tracker.observe(target.account_id_key, [order])  # the order as the human approved cancelling it
        core.tracker.cancel_requested(target.account_id_key, order.order_id)
        return CancelledOrder(order.order_id, entry.id, result.cancel_time_unix_ms, result.messages, pending)
