"""The preview desk: an order (or a cancel) becomes a pending confirmation that a human must approve.

Invariants: nothing is asked of E*TRADE while as many pending orders wait as the cap allows
(ETRADE_MAX_PENDING_ORDERS; checked right after the trading gate, the slot held until the pending
entry exists); a cancel is never refused for a count, but at most one waits per order: a request for
an order whose cancel already waits gets that one, so a model asking to cancel over and over neither
grows the list nor keeps the human from cancelling; every preview is validated and risk-checked before E*TRADE is asked, and E*TRADE is
asked before a human is asked; a pending request is audited before it can be confirmed (if the
audit fails it is discarded); the code is shown in a desktop notification only when the operator
chose so, and never logged.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable
from typing import Any

from broker_client.errors import ErrorCode, InvalidRequest, NotFound, PolicyRefused
from daemon.accounts.accounts import AccountsData, check_account_key
from daemon.clock import iso_et
from daemon.events import EventKind
from daemon.market.market import MarketData
from daemon.market.market_hours import in_regular_session
from daemon.models import Quote
from daemon.orders import etrade, risk
from daemon.orders.desk import placement
from daemon.orders.desk.config import PreviewConfig
from daemon.orders.desk.core import DeskCore, InFlight
from daemon.orders.desk.journal_ops import JournalDesk
from daemon.orders.desk.reads import OrderReads, OrdersUpstream
from daemon.orders.desk.tally import DailyTally
from daemon.orders.desk.trading import TradingGate
from daemon.orders.model import RiskFinding, decimal_text, money_text
from daemon.orders.pending import CancelTarget, PendingKind, PendingOrder, format_code
from daemon.orders.validation import OrderInput, parse_order, reference_price

log = logging.getLogger(__name__)


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


class PreviewDesk:
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
        config: PreviewConfig,
    ) -> None:
        self._core = core
        self._gate = gate
        self._tally = tally
        self._in_flight = in_flight
        self._journal = journal
        self._upstream = upstream
        self._reads = reads
        self._market = market
        self._accounts = accounts
        self._config = config

    async def preview_order(self, raw: OrderInput, *, client: str = "") -> PendingOrder:
        """Validate, risk-check and preview at E*TRADE; create the pending confirmation."""
        context = {"client": client, "symbol": str(raw.symbol)[:12], "account": str(raw.account_id_key)[:64]}
        return await self._gate.guard("preview", context, self._preview(raw, client))

    async def _preview(self, raw: OrderInput, client: str) -> PendingOrder:
        self._gate.gate()
        with self._core.pending.slot():
            return await self._preview_in_slot(raw, client)

    async def _preview_in_slot(self, raw: OrderInput, client: str) -> PendingOrder:
        policy = self._gate.policy
        order = parse_order(
            raw,
            max_quantity=self._config.max_order_quantity,
            market_protection=self._config.market_order_protection,
        )
        policy.check_static(order)
        await self._journal.reconcile_before_trading()
        self._in_flight.refuse_if_unsettled(order.account_id_key, order.symbol)
        await self._require_open_account(order.account_id_key)
        quote, balance, portfolio = await self._gather(
            self._quote(order.symbol),
            self._accounts.balance(order.account_id_key),
            self._accounts.portfolio(order.account_id_key),
        )
        protection: RiskFinding | None = None
        live = reference_price(quote, order.action)
        if self._config.market_order_protection and live is not None:
            order, protection = placement.protect_market_order(order, live, self._config.drift_percent)
        placement.check_session(order, in_regular_session(self._core.clock.now()))
        reference, value = policy.check_against_quote(order, quote)
        findings = risk.assess(
            risk.RiskInputs(order, value, quote, balance, portfolio, self._tally.today()), self._tally.limits
        )
        warnings = risk.refuse_on_hard(findings) + ([protection] if protection is not None else [])
        client_order_id = secrets.token_hex(10)  # 20 alphanumerics, unique per account (§5.5)
        payload = await self._upstream.account_json(
            order.account_id_key, "POST", "/orders/preview", etrade.preview_body(order, client_order_id)
        )
        preview = etrade.parse_preview(payload)
        # E*TRADE's own estimate must respect the cap as well as ours.
        policy.check_value(order, preview.estimated_total_amount)
        pending = self._core.pending.create(
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
        await self._core.audit_or_discard(
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
        self._core.publish(EventKind.PENDING_ORDERS_CHANGED, pending.id, change="created")
        self._core.notify(
            "etrade-mcp: approve this order?",
            f"{order.describe()}\nest. {money_text(preview.estimated_total_amount)} USD\n{self._how(pending)}",
        )
        return pending

    def _how(self, pending: PendingOrder) -> str:
        # The code only when the operator chose to show it: a notification is readable by more than
        # the human (the notification server, anyone on the session bus, screen capture).
        if self._config.notify_codes:
            return f"Code {format_code(pending.code)} · etradectl orders confirm {pending.id}"
        return f"Review and confirm: etradectl orders confirm {pending.id}"

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

    def _waiting_cancel(self, key: str, order_id: int) -> PendingOrder | None:
        waiting = self._core.pending.waiting_cancel(key, order_id)
        if waiting is not None:
            log.info("orders: cancel of order %d already waits as %s", order_id, waiting.id)
        return waiting

    async def request_cancel(self, account_id_key: str, order_id: int, *, client: str = "") -> PendingOrder:
        """A pending cancel of an open order, with its own confirmation code; the one that already
        waits for this order, if there is one (then E*TRADE is not asked again)."""
        context = {"client": client, "account": str(account_id_key)[:64], "order_id": order_id}

        async def work() -> PendingOrder:
            self._gate.gate()
            key = check_account_key(account_id_key)
            allowed = self._gate.policy.limits.allowed_accounts
            if key not in allowed and allowed:
                raise PolicyRefused(ErrorCode.ACCOUNT_NOT_ALLOWED, f"account {key} is not in ETRADE_ALLOWED_ACCOUNTS")
            if (waiting := self._waiting_cancel(key, order_id)) is not None:
                return waiting
            order = await self._reads.get_order(key, order_id)
            if not order.is_open:
                raise InvalidRequest(
                    ErrorCode.ORDER_NOT_CANCELLABLE,
                    f"order {order_id} is {order.status}; only OPEN orders can be cancelled",
                )
            # Again after the await: a concurrent request for the same order may have made one meanwhile.
            if (waiting := self._waiting_cancel(key, order_id)) is not None:
                return waiting
            pending = self._core.pending.create(
                PendingKind.CANCEL, key, cancel=CancelTarget(key, order), symbol_description=order.symbol_description
            )
            await self._core.audit_or_discard(
                pending,
                "cancel.requested",
                {"pending_id": pending.id, "digest": pending.digest, "client": client, "order_id": order_id},
            )
            log.info("orders: pending cancel %s of order %d (%s)", pending.id, order_id, order.symbol)
            self._core.publish(EventKind.PENDING_ORDERS_CHANGED, pending.id, change="created")
            self._core.notify(
                "etrade-mcp: approve this cancel?",
                f"Cancel order {order_id}: {order.action} {decimal_text(order.ordered_quantity)} {order.symbol}\n"
                f"{self._how(pending)}",
            )
            return pending

        return await self._gate.guard("cancel", context, work())


__all__ = ["PreviewDesk", "confirm_instructions"]
