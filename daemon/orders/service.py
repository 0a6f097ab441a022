"""Orders, orchestrated: preview → pending confirmation → journaled place or cancel → reconciliation.

The invariants this module keeps (tests in ``tests/daemon/test_orders_*.py`` prove each):

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
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from broker_client.errors import (
    BrokerError,
    ErrorCode,
    InternalError,
    InvalidRequest,
    NotFound,
    PolicyRefused,
    RateLimited,
    SessionError,
    UpstreamError,
    make_error,
)
from daemon import caller
from daemon.accounts.accounts import AccountsData, check_account_key
from daemon.clock import ET, Clock, iso_et, last_midnight_et
from daemon.etrade.upstream import EtradeApiError, EtradeHttp
from daemon.events import EventBus, EventKind
from daemon.gateway.deadline import Deadline
from daemon.gateway.gateway import EtradeGateway
from daemon.host import notify
from daemon.market.market import MarketData
from daemon.market.market_hours import in_regular_session
from daemon.models import Quote
from daemon.orders import etrade, placement, risk
from daemon.orders.audit import FILE_NAME as AUDIT_FILE
from daemon.orders.audit import HEAD_KEY, AuditEntry, AuditLog, Verification
from daemon.orders.breaker import CircuitBreaker, HaltState, Problem, TradingSwitch
from daemon.orders.journal import FILE_NAME as JOURNAL_FILE
from daemon.orders.journal import OPEN_STATES, Entry, EntryKind, EntryState, Journal, NewEntry
from daemon.orders.model import EtradeMessage, Order, RiskFinding, decimal_text, money_text
from daemon.orders.pending import CancelTarget, PendingKind, PendingOrder, PendingState, PendingStore, format_code
from daemon.orders.reconcile import Outcome, settle_cancel, settle_place
from daemon.orders.tracker import FILE_NAME as STATUSES_FILE
from daemon.orders.tracker import OrderTracker
from daemon.orders.validation import OrderInput, OrderPolicy, PolicyLimits, parse_order, reference_price
from daemon.session import RefusedAtAuthentication
from daemon.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

LIST_STATUSES = ("OPEN", "EXECUTED", "CANCELLED", "INDIVIDUAL_FILLS", "CANCEL_REQUESTED", "EXPIRED", "REJECTED")
DEFAULT_LIST_DAYS = 30
MAX_LIST = 500
_UNKNOWN_ACCOUNT_CODES = {100, 102, 253, 7001}
#: Refusals that say nothing suspicious about the caller, so the circuit breaker ignores them.
_NOT_COUNTED = {
    ErrorCode.READ_ONLY,
    ErrorCode.TRADING_HALTED,
    ErrorCode.CONFIRMATION_USED,
    ErrorCode.CONFIRMATION_EXPIRED,
    ErrorCode.OPERATOR_ONLY,
    ErrorCode.OUTCOME_UNRESOLVED,  # the journal's state, not the caller's doing
    ErrorCode.REQUEST_NOT_RECEIVED,  # E*TRADE refused the token, not the request
}
#: How long shutdown waits for an in-flight place or cancel to record its outcome.
SHUTDOWN_GRACE_SECONDS = 20.0


class _NotCounted(Exception):
    """Carries a refusal or failure that says nothing about the caller (the market moved, E*TRADE could
    not be asked) out of the send, past the circuit breaker; :meth:`OrderService._guard` unwraps it."""

    def __init__(self, error: BrokerError) -> None:
        super().__init__(error.message)
        self.error = error


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


@dataclass(frozen=True)
class TradingState:
    read_only: bool
    halt: HaltState
    pending: int
    attention: int
    breaker_recent: int


def _pair(pending: PendingOrder) -> tuple[str, str]:
    """The account and symbol a pending place or cancel is about."""
    if pending.order is not None:
        return pending.order.account_id_key, pending.order.symbol
    assert pending.cancel is not None
    return pending.cancel.account_id_key, pending.cancel.order.symbol


def confirm_instructions(pending: PendingOrder) -> str:
    """How the human approves, for the model to relay. Never contains the code."""
    what = "order" if pending.kind is PendingKind.PLACE else "cancel"
    tool = "place_order_confirmed" if pending.kind is PendingKind.PLACE else "cancel_order_confirmed"
    return (
        f"Nothing has been sent to E*TRADE yet. A human must approve this {what}: they see it with its "
        f"one-time confirmation code in `etradectl orders pending` (and in a desktop notification where "
        f"available). Either they confirm it there with `etradectl orders confirm {pending.id}`, or they tell "
        f"you the code and you call {tool}(pending_id='{pending.id}', confirmation_code=<their code>). "
        f"Do not guess codes: wrong codes void the pending {what}. It expires at {iso_et(pending.expires_at)}."
    )


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
        self._settings = settings
        self._clock = clock
        self._gateway = gateway
        self._http = http
        self._market = market
        self._accounts = accounts
        self.notifier = notifier
        self._events = events
        self.journal = Journal(state_dir / JOURNAL_FILE)
        self.audit = AuditLog(
            state_dir / AUDIT_FILE,
            head_get=lambda: self.journal.get_control(HEAD_KEY),
            head_set=lambda value: self.journal.set_control(HEAD_KEY, value),
        )
        self.pending = PendingStore(
            clock, ttl_seconds=settings.confirmation_ttl_seconds, max_attempts=settings.confirmation_attempts
        )
        self.switch = TradingSwitch(self.journal.get_control, self.journal.set_control)
        self.breaker = CircuitBreaker(
            clock, threshold=settings.breaker_threshold, window_seconds=settings.breaker_window_seconds
        )
        self.policy = OrderPolicy(
            PolicyLimits(
                read_only=settings.read_only,
                max_order_value=Decimal(str(settings.max_order_value)),
                price_band_percent=Decimal(str(settings.price_band_percent)),
                allowed_accounts=frozenset(settings.allowed_accounts),
                allowed_symbols=frozenset(settings.allowed_symbols),
                blocked_symbols=frozenset(settings.blocked_symbols),
            )
        )
        self.risk_limits = risk.RiskLimits(
            max_position_percent=Decimal(str(settings.max_position_percent)),
            max_daily_orders=settings.max_daily_orders,
            max_daily_value=Decimal(str(settings.max_daily_value)),
            volatility_warn_percent=Decimal(str(settings.volatility_warn_percent)),
        )
        # One thread for the journal and the audit log: their writes stay in order, the loop stays free.
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orders-io")
        self._tasks: set[asyncio.Task[Any]] = set()
        # pending id (or journal entry) -> (sent at, estimated value) of recent sends, for the daily limits
        self._tally: dict[str, tuple[float, Decimal]] = {}
        # Every order's last-known status (persisted): the one place ORDER_STATUS_CHANGED is published,
        # whoever saw the change (a client's listing, the fill watcher, a placement, a reconciliation).
        self.tracker = OrderTracker(
            state_dir / STATUSES_FILE,
            clock,
            events,
            keep_seconds=(settings.fill_watch_lookback_days + 2) * 86_400,
        )
        self.tracker.load()
        # pending id -> (account, symbol) of every place or cancel claimed and not yet finished sending
        # (journaled or not): no second order for that pair is claimed meanwhile, and a SENDING journal
        # entry whose pending id is not here was stranded (its outcome could not be recorded).
        self._sending: dict[str, tuple[str, str]] = {}
        # journal entry -> the order id E*TRADE gave it, for entries whose PLACED write failed:
        # reconciliation records it from here rather than matching by details.
        self._unrecorded_order_ids: dict[int, int] = {}
        # journal entries whose request E*TRADE answered with a 401: it never acted on them, so their
        # order list settles them at once (no grace period for a request that could still surface).
        self._answered_401: set[int] = set()
        self._drift = Decimal(str(settings.placement_drift_percent))
        self._wake: asyncio.Event | None = None
        self._reconcile_lock: asyncio.Lock | None = None
        self._loop_task: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Settle what a previous run left in flight, load today's tally, start reconciling."""
        self._wake = asyncio.Event()
        self._reconcile_lock = asyncio.Lock()
        now = self._clock.now()
        interrupted = await self._run_io(self.journal.mark_interrupted, now)
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
            await self.record("journal.interrupted", {"entry": entry.id, "kind": entry.kind.value})
            self._attention(entry, "the daemon stopped while it was in flight; outcome unknown")
        since = last_midnight_et(now) - 86_400
        for entry in await self._run_io(self.journal.placed_since, since):
            self._tally[f"entry-{entry.id}"] = (entry.created_at, Decimal(entry.estimated_value or "0"))
        if self.switch.halted:
            log.warning(
                "trading: halted since a previous run (%s); `etradectl resume` ends it", self.switch.state.reason
            )
        self._loop_task = asyncio.create_task(self._reconcile_loop(), name="orders-reconcile")

    async def close(self) -> None:
        """Let in-flight requests record their outcome (bounded), then stop."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=SHUTDOWN_GRACE_SECONDS)
        self._io.shutdown(wait=True)
        self.journal.close()

    async def drain(self) -> None:
        """Wait until every in-flight place or cancel has recorded its outcome."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def _run_io(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._io, fn, *args)

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)

        def done(finished: asyncio.Task[T]) -> None:
            self._tasks.discard(finished)
            if not finished.cancelled():
                finished.exception()  # retrieved: the outcome is in the journal and the audit log

        task.add_done_callback(done)
        return task

    # -- audit, notifications, events, breaker -----------------------------------------------
    def _publish(self, kind: EventKind, subject: str, **attributes: str) -> None:
        """Tell subscribers (the MCP proxies' live updates) what changed. Never a code."""
        if self._events is not None:
            self._events.publish(kind, subject, **attributes)

    def _attention(self, entry: Entry, reason: str) -> None:
        """A journal entry needs the operator: tell the notification channels (no code, no secret)."""
        self._publish(
            EventKind.JOURNAL_ATTENTION,
            str(entry.id),
            reason=reason,
            entry_kind=entry.kind.value,
            action=str(entry.action),
            quantity=str(entry.quantity),
            symbol=str(entry.symbol),
        )

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    async def _audit(self, event: str, data: dict[str, Any]) -> AuditEntry:
        # Beside the name the client declared: who the kernel says made the call that led here.
        data = {**data, **caller.audit_fields()} if caller.CALLER.get() is not None else data
        return await self._run_io(self.audit.append, event, data, self._now_ms())

    async def _audit_or_discard(self, pending: PendingOrder, event: str, data: dict[str, Any]) -> None:
        """Audit a new pending request; if that fails, it is discarded: nothing is confirmable off the record."""
        try:
            await self._audit(event, data)
        except Exception as exc:
            # The operator may have confirmed it in the milliseconds the write took; then it is sent.
            with contextlib.suppress(BrokerError):
                self.pending.reject(pending.id)
            log.exception("audit: could not record %s; pending %s discarded", event, pending.id)
            raise InternalError(
                ErrorCode.INTERNAL, "the audit log could not be written; the request was discarded and nothing was sent"
            ) from exc

    async def record(self, event: str, data: dict[str, Any]) -> None:
        """Audit an event where a failure to audit must not fail the caller (logins, outcomes)."""
        try:
            await self._audit(event, data)
        except Exception:
            log.exception("audit: could not record %s", event)

    def _notify(self, title: str, body: str) -> None:
        """Best effort, off the loop; the text goes to the desktop only, never to a log."""

        async def show() -> None:
            await asyncio.to_thread(self.notifier, title, body)

        self._spawn(show())

    async def _count(self, operation: str, exc: BrokerError, context: dict[str, Any]) -> None:
        """Audit a refusal or failure and feed the circuit breaker."""
        await self.record(f"{operation}.refused", {**context, "code": exc.code.value, "reason": exc.message})
        if exc.code is ErrorCode.CONFIRMATION_VOIDED and context.get("pending_id"):
            self._publish(EventKind.PENDING_ORDERS_CHANGED, str(context["pending_id"]), change="voided")
        # Bad input and refusals count (a confused or probing model stops itself); the session, rate
        # limits and harmless repeats do not.
        if exc.code in _NOT_COUNTED or isinstance(exc, SessionError | RateLimited):
            return
        trip = self.breaker.record(exc.code.value, operation=operation, client=str(context.get("client", "")))
        if trip is not None:
            await self.halt(trip.reason, by="circuit breaker", problems=trip.problems)

    async def _guard(self, operation: str, context: dict[str, Any], work: Awaitable[T]) -> T:
        try:
            return await work
        except _NotCounted as wrapped:
            error = wrapped.error
            await self.record(f"{operation}.refused", {**context, "code": error.code.value, "reason": error.message})
            raise error from None
        except BrokerError as exc:
            await self._count(operation, exc, context)
            raise

    def _gate(self) -> None:
        """Read-only and the halt switch, before anything else."""
        self.policy.require_trading_enabled()
        state = self.switch.state
        if state.halted:
            since = f" since {iso_et(state.since)}" if state.since else ""
            raise PolicyRefused(ErrorCode.TRADING_HALTED, f"trading is halted{since}: {state.reason}")

    # -- halt / resume -----------------------------------------------------------------------
    async def halt(self, reason: str, *, by: str, problems: tuple[Problem, ...] = ()) -> HaltState:
        already = self.switch.halted
        state = await self._run_io(
            self.switch.halt, reason or "halted by the operator", by, self._clock.now(), problems
        )
        if not already:
            log.warning("trading: HALTED by %s: %s", by, state.reason)
            clients = ",".join(sorted({p.client for p in problems if p.client}))
            self._publish(
                EventKind.TRADING_STATE_CHANGED,
                "disabled",
                reason=state.reason,
                **({"cause": "circuit_breaker", "clients": clients} if problems else {}),
            )
            await self.record(
                "trading.halted",
                {
                    "reason": state.reason,
                    "by": by,
                    **({"problems": [p.as_json() for p in problems]} if problems else {}),
                },
            )
            self._notify("etrade-mcp: trading halted", f"{state.reason}\nResume with: etradectl resume")
        return state

    async def resume(self, *, by: str) -> HaltState:
        was = self.switch.state
        state = await self._run_io(self.switch.resume)
        if was.halted:
            log.warning("trading: resumed by %s", by)
            if not self._settings.read_only:
                self._publish(EventKind.TRADING_STATE_CHANGED, "enabled", reason=f"resumed by {by}")
            await self.record("trading.resumed", {"by": by, "was": was.reason})
        return state

    async def trading_state(self) -> TradingState:
        return TradingState(
            read_only=self._settings.read_only,
            halt=self.switch.state,
            pending=len(self.pending.active()),
            attention=len(await self._run_io(self.journal.attention)),
            breaker_recent=self.breaker.recent(),
        )

    async def attention(self) -> int:
        """Journal entries that need the operator."""
        return len(await self._run_io(self.journal.attention))

    # -- daily tally -------------------------------------------------------------------------
    def _today(self, *, excluding: str = "") -> risk.DailyActivity:
        midnight = last_midnight_et(self._clock.now())
        today = [value for key, (at, value) in self._tally.items() if at >= midnight and key != excluding]
        return risk.DailyActivity(orders=len(today), value=sum(today, Decimal(0)))

    def _check_daily(self, value: Decimal) -> None:
        risk.refuse_on_hard(risk.daily(value, self._today(), self.risk_limits))

    # -- reading -----------------------------------------------------------------------------
    def _observe(self, key: str, orders: list[Order]) -> None:
        """A status that changed since this daemon last saw the order (a fill, a cancel completing,
        an expiry) moves cash or positions: drop cached account data and tell subscribers."""
        if self.tracker.observe(key, orders):
            self._account_changed(key)

    def _deadline(self) -> Deadline:
        """The budget of one order request: E*TRADE's timeout plus room for a rate-limit slot."""
        return Deadline.after(self._settings.upstream_timeout + 5.0)

    async def _read(self, path: str, params: dict[str, str]) -> Any:
        """A GET of the Orders module: rate limited, retried when transient (reads are idempotent)."""
        return await self._gateway.get_json("orders", path, params, self._deadline())

    async def _send(self, method: str, path: str, body: dict[str, Any]) -> Any:
        """A POST/PUT of the Orders module: rate limited, sent exactly once, never retried here."""
        return await self._gateway.once("orders", self._http.send_json, method, path, body, deadline=self._deadline())

    async def _account_json(self, key: str, method: str, suffix: str, body: dict[str, Any]) -> Any:
        path = f"/v1/accounts/{key}{suffix}"
        try:
            try:
                return await self._send(method, path, body)
            except RefusedAtAuthentication as refused:
                if not refused.session_usable:
                    raise
                # A preview places nothing, so asking again after the renewal is safe.
                return await self._send(method, path, body)
        except EtradeApiError as exc:
            if exc.etrade_code in _UNKNOWN_ACCOUNT_CODES and exc.http_status < 500:
                raise NotFound(ErrorCode.UNKNOWN_ACCOUNT, f"E*TRADE does not know the account {key!r}") from None
            raise

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
        key = check_account_key(account_id_key)
        status = status.strip().upper()
        if status and status not in LIST_STATUSES:
            raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, f"status must be one of {', '.join(LIST_STATUSES)}")
        limit = max(1, min(int(limit or 25), MAX_LIST))
        start, end = self._date_range(from_date, to_date)
        params = {"fromDate": start, "toDate": end, "count": str(min(limit, 100))}
        if status:
            params["status"] = status
        if symbol.strip():
            from broker_client.symbols import normalize_symbol

            params["symbol"] = normalize_symbol(symbol)
        return await self._fetch_orders(key, params, limit)

    async def watch_orders(self, account_id_key: str, params: dict[str, str]) -> list[Order]:
        """One page of an account's orders for the fill watcher (the tracker sees them on the way)."""
        return await self._fetch_orders(check_account_key(account_id_key), params, int(params.get("count", "100")))

    async def _fetch_orders(self, key: str, params: dict[str, str], limit: int) -> list[Order]:
        orders: list[Order] = []
        marker: str | None = None
        for _ in range(MAX_LIST // 25 + 1):
            page_params = dict(params)
            if marker:
                page_params["marker"] = marker
            try:
                payload = await self._read(f"/v1/accounts/{key}/orders", page_params)
            except EtradeApiError as exc:
                if exc.etrade_code in _UNKNOWN_ACCOUNT_CODES and exc.http_status < 500:
                    raise NotFound(ErrorCode.UNKNOWN_ACCOUNT, f"E*TRADE does not know the account {key!r}") from None
                raise
            page, marker = etrade.parse_orders(payload, key)
            self._observe(key, page)
            orders.extend(page)
            if not marker or len(orders) >= limit:
                break
        return orders[:limit]

    def _date_range(self, from_date: str, to_date: str) -> tuple[str, str]:
        """YYYY-MM-DD (US Eastern) → E*TRADE's MMDDYYYY; default the last 30 days."""
        today = datetime.fromtimestamp(self._clock.now(), ET).date()

        def parse(raw: str, name: str) -> datetime:
            try:
                return datetime.strptime(raw.strip(), "%Y-%m-%d")
            except ValueError:
                raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, f"{name} must be a date like 2026-03-10") from None

        start = parse(from_date, "from_date").date() if from_date.strip() else today - timedelta(days=DEFAULT_LIST_DAYS)
        end = parse(to_date, "to_date").date() if to_date.strip() else today
        if end < start:
            raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, "to_date must not be before from_date")
        if start < today - timedelta(days=2 * 365):
            raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, "E*TRADE keeps two years of order history")
        return start.strftime("%m%d%Y"), end.strftime("%m%d%Y")

    async def get_order(self, account_id_key: str, order_id: int) -> Order:
        key = check_account_key(account_id_key)
        if order_id <= 0:
            raise InvalidRequest(
                ErrorCode.INVALID_ARGUMENT, "order_id must be a positive order number from list_orders"
            )
        try:
            payload = await self._read(f"/v1/accounts/{key}/orders/{order_id}", {})
        except EtradeApiError as exc:
            if exc.etrade_code in _UNKNOWN_ACCOUNT_CODES and exc.http_status < 500:
                raise NotFound(ErrorCode.UNKNOWN_ACCOUNT, f"E*TRADE does not know the account {key!r}") from None
            if exc.http_status < 500:
                raise NotFound(ErrorCode.ORDER_NOT_FOUND, f"E*TRADE has no order {order_id} in this account") from None
            raise
        orders, _ = etrade.parse_orders(payload, key)
        self._observe(key, orders)
        found = next((o for o in orders if o.order_id == order_id), None)
        if found is None:
            raise NotFound(ErrorCode.ORDER_NOT_FOUND, f"E*TRADE has no order {order_id} in this account")
        return found

    # -- preview -----------------------------------------------------------------------------
    async def preview_order(self, raw: OrderInput, *, client: str = "") -> PendingOrder:
        """Validate, risk-check and preview at E*TRADE; create the pending confirmation."""
        context = {"client": client, "symbol": str(raw.symbol)[:12], "account": str(raw.account_id_key)[:64]}
        return await self._guard("preview", context, self._preview(raw, client))

    async def _preview(self, raw: OrderInput, client: str) -> PendingOrder:
        self._gate()
        order = parse_order(
            raw,
            max_quantity=self._settings.max_order_quantity,
            market_protection=self._settings.market_order_protection,
        )
        self.policy.check_static(order)
        await self._reconcile_before_trading()
        self._refuse_if_unsettled(order.account_id_key, order.symbol)
        await self._require_open_account(order.account_id_key)
        quote, balance, portfolio = await self._gather(
            self._quote(order.symbol),
            self._accounts.balance(order.account_id_key),
            self._accounts.portfolio(order.account_id_key),
        )
        protection: RiskFinding | None = None
        live = reference_price(quote, order.action)
        if self._settings.market_order_protection and live is not None:
            order, protection = placement.protect_market_order(order, live, self._drift)
        placement.check_session(order, in_regular_session(self._clock.now()))
        reference, value = self.policy.check_against_quote(order, quote)
        findings = risk.assess(
            risk.RiskInputs(order, value, quote, balance, portfolio, self._today()), self.risk_limits
        )
        warnings = risk.refuse_on_hard(findings) + ([protection] if protection is not None else [])
        client_order_id = secrets.token_hex(10)  # 20 alphanumerics, unique per account (§5.5)
        payload = await self._account_json(
            order.account_id_key, "POST", "/orders/preview", etrade.preview_body(order, client_order_id)
        )
        preview = etrade.parse_preview(payload)
        # E*TRADE's own estimate must respect the cap as well as ours.
        self.policy.check_value(order, preview.estimated_total_amount)
        pending = self.pending.create(
            PendingKind.PLACE,
            order.account_id_key,
            client_order_id=client_order_id,
            order=order,
            preview=preview,
            warnings=tuple(warnings),
            estimated_value=decimal_text(value),
            reference_price=decimal_text(reference),
            symbol_description=quote.company_name,
        )
        await self._audit_or_discard(
            pending,
            "order.previewed",
            {
                "pending_id": pending.id,
                "digest": pending.digest,
                "client": client,
                "client_order_id": client_order_id,
                "order": order.canonical(),
                "preview": preview.canonical(),
                "warnings": [f"{w.check}: {w.message}" for w in warnings],
                "expires_at": iso_et(pending.expires_at),
            },
        )
        log.info("orders: pending %s: %s (expires %s)", pending.id, order.describe(), iso_et(pending.expires_at))
        self._publish(EventKind.PENDING_ORDERS_CHANGED, pending.id, change="created")
        # The code only when the operator chose to show it: a notification is readable by more than
        # the human (the notification server, anyone on the session bus, screen capture).
        how = (
            f"Code {format_code(pending.code)} · etradectl orders confirm {pending.id}"
            if self._settings.notify_codes
            else f"Review and confirm: etradectl orders confirm {pending.id}"
        )
        self._notify(
            "etrade-mcp: approve this order?",
            f"{order.describe()}\nest. {money_text(preview.estimated_total_amount)} USD\n{how}",
        )
        return pending

    async def _gather(self, *steps: Awaitable[Any]) -> Any:
        results = await asyncio.gather(*steps, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results

    async def _quote(self, symbol: str) -> Quote:
        batch = await self._market.quotes([symbol])
        if not batch.quotes:
            problem = batch.errors[0].message if batch.errors else f"E*TRADE has no quote for {symbol}"
            raise InvalidRequest(ErrorCode.INVALID_SYMBOL, problem)
        return batch.quotes[0]

    async def _require_open_account(self, key: str) -> None:
        accounts = await self._accounts.accounts(include_closed=True)
        found = next((a for a in accounts if a.account_id_key == key), None)
        if found is None:
            raise NotFound(ErrorCode.UNKNOWN_ACCOUNT, f"E*TRADE lists no account {key!r} for this login")
        if not found.is_open:
            raise NotFound(ErrorCode.UNKNOWN_ACCOUNT, f"account {key} is closed")

    def _refuse_if_unsettled(self, key: str, symbol: str) -> None:
        """No new order for an account and symbol while an earlier request's outcome is open.

        Synchronous (memory only), so a claim can check it in the same step as it claims: a human
        who approves a second order believing the first failed must not get two.
        """
        if (key, symbol) in self._sending.values():
            raise PolicyRefused(
                ErrorCode.OUTCOME_UNRESOLVED,
                f"another request for {symbol} in this account is being sent right now; "
                "try again once it has E*TRADE's answer",
            )
        entry = self.journal.unsettled(key, symbol)
        if entry is not None:
            what = "is still in flight" if entry.state is EntryState.SENDING else "has an unknown outcome"
            raise PolicyRefused(
                ErrorCode.OUTCOME_UNRESOLVED,
                f"journal entry {entry.id} ({entry.kind.value} {entry.action} {entry.quantity} {entry.symbol}) "
                f"{what}; nothing more is sent for this symbol until it is settled (`etradectl orders journal`)",
            )

    # -- place -------------------------------------------------------------------------------
    async def place_confirmed(self, pending_id: str, code: str, *, client: str = "") -> PlacedOrder:
        """Place the pending order if ``code`` is its confirmation code."""
        context = {"client": client, "pending_id": str(pending_id)[:40], "by": "code"}

        async def work() -> PlacedOrder:
            self._gate()
            pending = self._claim(pending_id, lambda: self.pending.claim_with_code(pending_id, code, PendingKind.PLACE))
            return await self._send_place(pending, by="code", client=client)

        return await self._guard("place", context, work())

    async def operator_confirm(self, pending_id: str, digest: str, *, client: str = "") -> PlacedOrder | CancelledOrder:
        """The operator approved in etradectl, after seeing the order whose digest comes back."""
        context = {"client": client, "pending_id": str(pending_id)[:40], "by": "operator"}

        async def work() -> PlacedOrder | CancelledOrder:
            self._gate()
            kind = self.pending.get(pending_id).kind
            pending = self._claim(pending_id, lambda: self.pending.claim_by_operator(pending_id, digest))
            if kind is PendingKind.PLACE:
                return await self._send_place(pending, by="operator", client=client)
            return await self._send_cancel(pending, by="operator", client=client)

        operation = "place" if self._kind_or_none(pending_id) is not PendingKind.CANCEL else "cancel"
        return await self._guard(operation, context, work())

    def _kind_or_none(self, pending_id: str) -> PendingKind | None:
        try:
            return self.pending.get(pending_id).kind
        except NotFound:
            return None

    def _claim(self, pending_id: str, claim: Callable[[], PendingOrder]) -> PendingOrder:
        """Claim atomically; an order also counts against today's limits in the same synchronous step
        (no ``await`` in between), so concurrent confirmations cannot overshoot them either."""
        peek = self.pending.get(pending_id)
        value = Decimal(peek.estimated_value or "0") if peek.kind is PendingKind.PLACE else None
        if value is not None and peek.state is PendingState.PENDING:
            self._check_daily(value)
            self._refuse_if_unsettled(*_pair(peek))
        pending = claim()
        self._sending[pending.id] = _pair(pending)
        if value is not None:
            self._tally[pending.id] = (self._clock.now(), value)
        self._publish(EventKind.PENDING_ORDERS_CHANGED, pending.id, change="confirmed")
        return pending

    async def _send_place(self, pending: PendingOrder, *, by: str, client: str) -> PlacedOrder:
        # Spawned at once after the (synchronous) claim and shielded: if the caller's deadline cancels
        # us, the placement still runs to its journaled end.
        return await asyncio.shield(
            self._spawn(self._finally_sent(pending, self._place(pending, by=by, client=client)))
        )

    async def _place(self, pending: PendingOrder, *, by: str, client: str) -> PlacedOrder:
        await self.record("confirmation.accepted", {"pending_id": pending.id, "by": by, "client": client})
        order, preview = pending.order, pending.preview
        assert order is not None and preview is not None
        key = order.account_id_key
        await self._recheck_or_refuse(pending)
        canonical = order.canonical()
        entry = await self._run_io(
            self.journal.begin,
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
                created_at=self._clock.now(),
            ),
        )
        try:
            await self._audit(
                "order.sending",
                {"entry": entry.id, "pending_id": pending.id, "client_order_id": pending.client_order_id},
            )
        except Exception as exc:
            await self._run_io(
                lambda: self.journal.resolve(
                    entry.id, EntryState.REJECTED, at=self._clock.now(), detail="not sent: the audit log failed"
                )
            )
            raise InternalError(ErrorCode.INTERNAL, "the audit log could not be written; nothing was sent") from exc
        body = etrade.place_body(order, pending.client_order_id, preview.preview_ids)
        try:
            payload = await self._send("POST", f"/v1/accounts/{key}/orders/place", body)
            result = etrade.parse_place(payload)
        except RefusedAtAuthentication as exc:
            return await self._place_refused_at_door(entry, pending, exc)
        except (EtradeApiError, SessionError, RateLimited) as exc:
            if isinstance(exc, EtradeApiError) and exc.http_status >= 500:
                raise await self._unknown(entry, pending, exc) from None
            reason = exc.message
            await self._run_io(
                lambda: self.journal.resolve(entry.id, EntryState.REJECTED, at=self._clock.now(), detail=reason)
            )
            self._tally.pop(pending.id, None)  # nothing was placed: it does not count against today
            self.pending.settle(pending.id)
            await self.record("order.rejected", {"entry": entry.id, "pending_id": pending.id, "reason": reason})
            raise
        except Exception as exc:  # timeouts, lost connections, unreadable answers: we cannot know
            raise await self._unknown(entry, pending, exc) from None
        await self._record_success(entry, EntryState.PLACED, result.order_id, "placed")
        self.pending.settle(pending.id)
        log.info("orders: placed order %d (journal entry %d): %s", result.order_id, entry.id, order.describe())
        await self.record(
            "order.placed",
            {"entry": entry.id, "pending_id": pending.id, "order_id": result.order_id, "order": canonical},
        )
        self._account_changed(key)
        self.tracker.placed(
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
            self.pending.void(pending.id, f"refused when it was about to be sent: {exc.message}")
            self._tally.pop(pending.id, None)
            await self.record(
                "order.refused_at_placement",
                {"pending_id": pending.id, "code": exc.code.value, "reason": exc.message},
            )
            self._publish(EventKind.PENDING_ORDERS_CHANGED, pending.id, change="voided")
            log.warning("orders: pending %s refused at placement, nothing sent: %s", pending.id, exc.message)
            raise _NotCounted(
                placement.PlacementRefused(
                    exc.code,
                    f"{exc.message}. Nothing was sent, and pending order {pending.id} is void: preview the order "
                    "again if it is still wanted",
                    hint=exc.hint,
                )
            ) from None
        except BrokerError as exc:
            raise _NotCounted(
                self._give_back(
                    pending, f"the order could not be checked against the market before sending ({exc.message})", exc
                )
            ) from None
        try:
            # The re-check waited for E*TRADE: a halt (or read-only) that arrived meanwhile wins.
            self._gate()
        except PolicyRefused as exc:
            raise _NotCounted(self._give_back(pending, exc.message, exc)) from None

    def _give_back(self, pending: PendingOrder, why: str, exc: BrokerError) -> BrokerError:
        """Nothing was sent: the approval waits again (same code, same expiry), and the error says so."""
        self._tally.pop(pending.id, None)
        released = self.pending.release(pending.id)
        if released is not None:
            self._publish(EventKind.PENDING_ORDERS_CHANGED, pending.id, change="released")
            again = f"pending order {pending.id} can be confirmed again until {iso_et(released.expires_at)}"
        else:
            again = f"pending order {pending.id} expired meanwhile; preview the order again"
        return make_error(exc.code, f"{why}; nothing was sent, and {again}", hint=exc.hint, retry_after=exc.retry_after)

    async def _recheck(self, pending: PendingOrder) -> None:
        order = pending.order
        assert order is not None
        quote = await self._market.fresh_quote(order.symbol, self._deadline())
        now = reference_price(quote, order.action)
        if now is None:
            raise PolicyRefused(
                ErrorCode.PRICE_MOVED,
                f"E*TRADE has no live price for {order.symbol} now, so the approved order cannot be checked "
                "against the market",
            )
        if not pending.reference_price:
            raise PolicyRefused(ErrorCode.PRICE_MOVED, "the preview recorded no market price to compare with")
        placement.check_drift(order, Decimal(pending.reference_price), now, self._drift)
        placement.check_session(order, in_regular_session(self._clock.now()))
        _, value = self.policy.check_against_quote(order, quote)
        risk.refuse_on_hard(risk.daily(value, self._today(excluding=pending.id), self.risk_limits))
        balance = await self._accounts.balance(order.account_id_key)
        risk.refuse_on_hard(risk.buying_power(order, value, balance))
        claimed_at = self._tally.get(pending.id, (self._clock.now(), value))[0]
        self._tally[pending.id] = (claimed_at, value)

    async def _refused_at_door(self, entry: Entry, pending: PendingOrder, exc: RefusedAtAuthentication) -> Entry:
        """E*TRADE answered 401 to a place or cancel: it is never re-sent. Settle it from the order list now.

        The session was renewed where it could be; if E*TRADE's list shows nothing happened,
        reconciliation gives the human's approval back (see :meth:`_apply`).
        """
        detail = f"{exc.message}; never re-sent: checking E*TRADE's order list"
        await self._run_io(
            lambda: self.journal.resolve(entry.id, EntryState.UNKNOWN, at=self._clock.now(), detail=detail)
        )
        self._answered_401.add(entry.id)
        log.warning("journal: entry %d was refused at authentication (401); checking the order list", entry.id)
        await self.record(
            "order.refused_at_authentication", {"entry": entry.id, "pending_id": pending.id, "reason": exc.message}
        )
        if exc.session_usable:
            try:
                await self.reconcile()
            except BrokerError as failure:
                log.info("journal: the order list could not be checked after the 401: %s", failure.message)
        elif self._wake is not None:
            self._wake.set()
        return await self._run_io(self.journal.get, entry.id)

    def _not_received(
        self, verb: str, entry: Entry, pending: PendingOrder, exc: RefusedAtAuthentication
    ) -> BrokerError:
        again = self.pending.get(pending.id)
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
            self.pending.settle(pending.id)
            placed_at = self._now_ms()
            with contextlib.suppress(BrokerError):
                placed_at = (await self.get_order(entry.account_id_key, settled.order_id)).placed_at_unix_ms
            return PlacedOrder(settled.order_id, entry.id, placed_at, (), pending)
        if settled.state is EntryState.NOT_PLACED:
            raise self._not_received("place", entry, pending, exc)
        raise _NotCounted(self._still_unknown("place", entry, pending, exc))

    async def _record_success(self, entry: Entry, state: EntryState, order_id: int, detail: str) -> None:
        """Journal what E*TRADE accepted.

        If the journal cannot record it, the caller still hears the truth (not an internal error):
        the entry stays SENDING (stranded), keeps its symbol blocked, and reconciliation settles it,
        a placement from the order id remembered here.
        """
        try:
            await self._run_io(
                lambda: self.journal.resolve(entry.id, state, at=self._clock.now(), order_id=order_id, detail=detail)
            )
        except Exception:
            log.exception(
                "journal: entry %d (%s, order %d) took effect but the journal could not record it",
                entry.id,
                detail,
                order_id,
            )
            if entry.kind is EntryKind.PLACE:
                self._unrecorded_order_ids[entry.id] = order_id
            if self._wake is not None:
                self._wake.set()

    async def _unknown(self, entry: Entry, pending: PendingOrder, exc: BaseException) -> UpstreamError:
        what = exc.message if isinstance(exc, BrokerError) else type(exc).__name__
        detail = f"no answer from E*TRADE ({what}); checking E*TRADE's order list — it is never re-sent"
        await self._run_io(
            lambda: self.journal.resolve(entry.id, EntryState.UNKNOWN, at=self._clock.now(), detail=detail)
        )
        log.warning("journal: entry %d has an UNKNOWN outcome: %s", entry.id, detail)
        self._attention(entry, f"no answer from E*TRADE ({what}); outcome unknown, never re-sent")
        self._account_changed(entry.account_id_key)  # it may have moved cash or positions
        await self.record("order.unknown", {"entry": entry.id, "pending_id": pending.id, "reason": what})
        self._notify(
            "etrade-mcp: order outcome unknown",
            f"Journal entry {entry.id}: {entry.kind.value} {entry.action} {entry.quantity} {entry.symbol}.\n"
            "It is never re-sent. See: etradectl orders journal",
        )
        if self._wake is not None:
            self._wake.set()
        verb = "place" if entry.kind is EntryKind.PLACE else "cancel"
        return UpstreamError(
            ErrorCode.ORDER_OUTCOME_UNKNOWN,
            f"E*TRADE's answer to the {verb} request did not arrive ({what}), so it may or may not have taken "
            f"effect (journal entry {entry.id})",
        )

    def _account_changed(self, key: str) -> None:
        """Order activity moves cash and positions: no client may see a cached balance from before."""
        self._accounts.invalidate_after_order_activity(key)

    # -- cancel ------------------------------------------------------------------------------
    async def request_cancel(self, account_id_key: str, order_id: int, *, client: str = "") -> PendingOrder:
        """A pending cancel of an open order, with its own confirmation code."""
        context = {"client": client, "account": str(account_id_key)[:64], "order_id": order_id}

        async def work() -> PendingOrder:
            self._gate()
            key = check_account_key(account_id_key)
            if key not in self.policy.limits.allowed_accounts and self.policy.limits.allowed_accounts:
                raise PolicyRefused(ErrorCode.ACCOUNT_NOT_ALLOWED, f"account {key} is not in ETRADE_ALLOWED_ACCOUNTS")
            order = await self.get_order(key, order_id)
            if not order.is_open:
                raise InvalidRequest(
                    ErrorCode.ORDER_NOT_CANCELLABLE,
                    f"order {order_id} is {order.status}; only OPEN orders can be cancelled",
                )
            pending = self.pending.create(
                PendingKind.CANCEL, key, cancel=CancelTarget(key, order), symbol_description=order.symbol_description
            )
            await self._audit_or_discard(
                pending,
                "cancel.requested",
                {"pending_id": pending.id, "digest": pending.digest, "client": client, "order_id": order_id},
            )
            log.info("orders: pending cancel %s of order %d (%s)", pending.id, order_id, order.symbol)
            self._publish(EventKind.PENDING_ORDERS_CHANGED, pending.id, change="created")
            how = (
                f"Code {format_code(pending.code)} · etradectl orders confirm {pending.id}"
                if self._settings.notify_codes
                else f"Review and confirm: etradectl orders confirm {pending.id}"
            )
            self._notify(
                "etrade-mcp: approve this cancel?",
                f"Cancel order {order_id}: {order.action} {decimal_text(order.ordered_quantity)} {order.symbol}\n{how}",
            )
            return pending

        return await self._guard("cancel", context, work())

    async def cancel_confirmed(self, pending_id: str, code: str, *, client: str = "") -> CancelledOrder:
        context = {"client": client, "pending_id": str(pending_id)[:40], "by": "code"}

        async def work() -> CancelledOrder:
            self._gate()
            pending = self._claim(
                pending_id, lambda: self.pending.claim_with_code(pending_id, code, PendingKind.CANCEL)
            )
            return await self._send_cancel(pending, by="code", client=client)

        return await self._guard("cancel", context, work())

    async def _send_cancel(self, pending: PendingOrder, *, by: str, client: str) -> CancelledOrder:
        return await asyncio.shield(
            self._spawn(self._finally_sent(pending, self._cancel(pending, by=by, client=client)))
        )

    async def _finally_sent(self, pending: PendingOrder, send: Awaitable[T]) -> T:
        """Run a claimed request's send; whatever happens, it no longer holds its account and symbol."""
        try:
            return await send
        finally:
            self._sending.pop(pending.id, None)

    async def _cancel(self, pending: PendingOrder, *, by: str, client: str) -> CancelledOrder:
        await self.record("confirmation.accepted", {"pending_id": pending.id, "by": by, "client": client})
        target = pending.cancel
        assert target is not None
        order = target.order
        entry = await self._run_io(
            self.journal.begin,
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
                created_at=self._clock.now(),
                order_id=order.order_id,
            ),
        )
        path = f"/v1/accounts/{target.account_id_key}/orders/cancel"
        try:
            payload = await self._send("PUT", path, etrade.cancel_body(order.order_id))
            result = etrade.parse_cancel(payload)
        except RefusedAtAuthentication as exc:
            settled = await self._refused_at_door(entry, pending, exc)
            if settled.state is EntryState.CANCEL_ACCEPTED:
                self.pending.settle(pending.id)
                return CancelledOrder(order.order_id, entry.id, self._now_ms(), (), pending)
            if settled.state is EntryState.NOT_CANCELLED:
                raise self._not_received("cancel", entry, pending, exc) from None
            raise _NotCounted(self._still_unknown("cancel", entry, pending, exc)) from None
        except (EtradeApiError, SessionError, RateLimited) as exc:
            if isinstance(exc, EtradeApiError) and exc.http_status >= 500:
                raise await self._unknown(entry, pending, exc) from None
            reason = exc.message
            await self._run_io(
                lambda: self.journal.resolve(entry.id, EntryState.REJECTED, at=self._clock.now(), detail=reason)
            )
            self.pending.settle(pending.id)
            await self.record("cancel.rejected", {"entry": entry.id, "pending_id": pending.id, "reason": reason})
            raise
        except Exception as exc:
            raise await self._unknown(entry, pending, exc) from None
        await self._record_success(entry, EntryState.CANCEL_ACCEPTED, order.order_id, "cancel accepted")
        self.pending.settle(pending.id)
        log.info("orders: cancel of order %d accepted (journal entry %d)", order.order_id, entry.id)
        await self.record(
            "order.cancel_accepted", {"entry": entry.id, "pending_id": pending.id, "order_id": order.order_id}
        )
        self._account_changed(target.account_id_key)
        if self.tracker.get(order.order_id) is None:
            self.tracker.observe(target.account_id_key, [order])  # the order as the human approved cancelling it
        self.tracker.cancel_requested(target.account_id_key, order.order_id)
        return CancelledOrder(order.order_id, entry.id, result.cancel_time_unix_ms, result.messages, pending)

    # -- operator ----------------------------------------------------------------------------
    async def reject(self, pending_id: str, *, client: str = "") -> PendingOrder:
        """The operator says no: to a waiting order, or to an approval held while a 401's outcome is checked."""
        pending = self.pending.reject(pending_id, sending=pending_id in self._sending)
        await self.record("confirmation.rejected", {"pending_id": pending.id, "client": client})
        log.info("orders: pending %s rejected by the operator", pending.id)
        self._publish(EventKind.PENDING_ORDERS_CHANGED, pending.id, change="rejected")
        return pending

    async def audit_entries(self, *, limit: int, after_seq: int) -> list[AuditEntry]:
        return await self._run_io(lambda: self.audit.entries(limit=limit, after_seq=after_seq))

    async def verify_audit(self) -> Verification:
        return await self._run_io(self.audit.verify)

    async def journal_report(self, *, everything: bool, limit: int = 100) -> tuple[list[Entry], str]:
        """Reconcile first (the operator looking is an opportunity), then the entries to show."""
        problem = ""
        try:
            await self.reconcile()
        except BrokerError as exc:
            problem = f"could not check E*TRADE's order list: {exc.message}"
        if everything:
            return await self._run_io(lambda: self.journal.entries(limit=limit)), problem
        return await self._run_io(self.journal.attention), problem

    def _stranded(self, entry: Entry) -> bool:
        """SENDING, but no send of this daemon is working on it: its outcome was never recorded."""
        return entry.state is EntryState.SENDING and entry.pending_id not in self._sending

    async def acknowledge(self, entry_id: int, *, client: str = "") -> Entry:
        entry = await self._run_io(self.journal.get, entry_id)
        if entry.state is EntryState.SENDING and not self._stranded(entry):
            raise InvalidRequest(
                ErrorCode.INVALID_ARGUMENT, f"entry {entry_id} is being sent right now; look again in a moment"
            )
        if entry.state in OPEN_STATES:
            raise InvalidRequest(
                ErrorCode.INVALID_ARGUMENT,
                f"entry {entry_id}'s outcome is still unknown; record it with `etradectl orders resolve {entry_id}`",
            )
        acknowledged = await self._run_io(self.journal.acknowledge, entry_id)
        await self.record("journal.acknowledged", {"entry": entry_id, "client": client})
        return acknowledged

    async def resolve_entry(self, entry_id: int, *, order_id: int, not_placed: bool, client: str = "") -> Entry:
        """The operator checked at E*TRADE and says what became of an unknown outcome."""
        entry = await self._run_io(self.journal.get, entry_id)
        if entry.state is not EntryState.UNKNOWN and not self._stranded(entry):
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
            if placed and order_id in await self._run_io(self.journal.claimed_order_ids):
                raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, f"order {order_id} already belongs to another entry")
            state = EntryState.PLACED if placed else EntryState.CANCEL_ACCEPTED
            detail = f"the operator found it as order {order_id}"
        await self._run_io(
            lambda: self.journal.resolve(
                entry_id, state, at=self._clock.now(), order_id=order_id or None, detail=detail, reconciled=True
            )
        )
        resolved = await self._run_io(self.journal.acknowledge, entry_id)
        await self.record(
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
            # arrives as the timeout fires, and close() would then wait for a loop that never ends.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.reconcile_interval_seconds):
                    await self._wake.wait()
            self._wake.clear()

    async def _reconcile_before_trading(self) -> None:
        """The next opportunity: before another preview, settle what can be settled (quietly)."""
        entries = await self._run_io(self.journal.in_states, *OPEN_STATES)
        if not any(e.state is EntryState.UNKNOWN or self._stranded(e) for e in entries):
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
        assert self._reconcile_lock is not None, "start() first"
        async with self._reconcile_lock:
            open_entries = await self._run_io(lambda: self.journal.in_states(*OPEN_STATES))
            unknown = [e for e in open_entries if e.state is EntryState.UNKNOWN or self._stranded(e)]
            if not unknown:
                return []
            now = self._clock.now()
            claimed = await self._run_io(self.journal.claimed_order_ids)
            changed: list[Entry] = []
            by_account: dict[str, list[Order]] = {}
            for entry in unknown:
                known = self._unrecorded_order_ids.get(entry.id)
                if entry.kind is EntryKind.PLACE and known is not None:
                    outcome = Outcome(
                        EntryState.PLACED,
                        f"placed as order {known}; the journal could not record it at the time",
                        order_id=known,
                    )
                    claimed.add(known)
                elif entry.kind is EntryKind.PLACE:
                    if entry.account_id_key not in by_account:
                        by_account[entry.account_id_key] = await self._recent_orders(entry.account_id_key, unknown)
                    outcome = settle_place(
                        entry, by_account[entry.account_id_key], claimed, now=now, grace_seconds=self._grace(entry)
                    )
                    if outcome.order_id is not None:
                        claimed.add(outcome.order_id)
                else:
                    try:
                        target: Order | None = await self.get_order(entry.account_id_key, entry.order_id or 0)
                    except NotFound:
                        target = None
                    outcome = settle_cancel(entry, target, now=now, grace_seconds=self._grace(entry))
                updated = await self._apply(entry, outcome, now)
                if updated is not None:
                    changed.append(updated)
                    if updated.state not in OPEN_STATES:
                        self._unrecorded_order_ids.pop(entry.id, None)
            return changed

    def _grace(self, entry: Entry) -> float:
        """How long an entry not found at E*TRADE stays UNKNOWN: none for a request E*TRADE refused at the door."""
        return 0.0 if entry.id in self._answered_401 else self._settings.reconcile_grace_seconds

    async def _recent_orders(self, key: str, entries: list[Entry]) -> list[Order]:
        oldest = min(e.created_at for e in entries if e.account_id_key == key)
        start = datetime.fromtimestamp(oldest, ET).date() - timedelta(days=1)
        end = datetime.fromtimestamp(self._clock.now(), ET).date() + timedelta(days=1)
        params = {"fromDate": start.strftime("%m%d%Y"), "toDate": end.strftime("%m%d%Y"), "count": "100"}
        return await self._fetch_orders(key, params, MAX_LIST)

    async def _apply(self, entry: Entry, outcome: Outcome, now: float) -> Entry | None:
        same = (
            outcome.state is entry.state
            and outcome.detail == entry.detail
            and tuple(outcome.candidates) == entry.candidate_ids
        )
        if same:
            return None
        updated = await self._run_io(
            lambda: self.journal.resolve(
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
        await self.record(
            "journal.reconciled",
            {"entry": entry.id, "state": outcome.state.value, "order_id": outcome.order_id, "detail": outcome.detail},
        )
        answered_401 = entry.id in self._answered_401
        if outcome.state not in OPEN_STATES:
            self._answered_401.discard(entry.id)
        if outcome.reconciled and outcome.state in (EntryState.NOT_PLACED, EntryState.NOT_CANCELLED):
            self._tally.pop(entry.pending_id, None)  # nothing happened: it does not count against today
        if outcome.reconciled and outcome.state in (EntryState.NOT_PLACED, EntryState.NOT_CANCELLED) and answered_401:
            # Only a request E*TRADE refused at the door gets its approval back: one that timed out may
            # still surface late, and the grace period that settled it is no proof.
            released = self.pending.release(entry.pending_id)
            if released is not None:
                log.info("orders: pending %s can be confirmed again (E*TRADE never acted on it)", released.id)
                await self.record("confirmation.released", {"pending_id": released.id, "entry": entry.id})
                self._publish(EventKind.PENDING_ORDERS_CHANGED, released.id, change="released")
        if outcome.state not in OPEN_STATES and not answered_401:
            self.pending.settle(entry.pending_id)
        if outcome.reconciled:
            self._notify("etrade-mcp: order outcome settled", f"Journal entry {entry.id}: {outcome.detail}")
            self._attention(entry, f"outcome settled from E*TRADE's order list: {outcome.detail}")
            if outcome.state is EntryState.PLACED and outcome.order_id is not None:
                self._account_changed(entry.account_id_key)
                self.tracker.placed(
                    entry.account_id_key,
                    outcome.order_id,
                    symbol=entry.symbol,
                    action=entry.action,
                    quantity=entry.quantity,
                    placed_at_unix_ms=int(entry.created_at * 1000),
                )
        return updated


__all__ = ["CancelledOrder", "OrderService", "PlacedOrder", "TradingState", "confirm_instructions"]
