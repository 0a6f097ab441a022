"""The Orders module at E*TRADE: reads (list and get, feeding the order tracker) and the one
request path for previews, places and cancels.

Reads are rate limited and retried when transient (they are idempotent). A POST or PUT goes through
:meth:`OrdersUpstream.send`: rate limited, sent exactly once, never retried here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from broker_client.errors import ErrorCode, InvalidRequest, NotFound
from daemon.accounts.accounts import check_account_key
from daemon.clock import ET, Clock
from daemon.etrade.upstream import EtradeApiError, EtradeHttp
from daemon.gateway.deadline import Deadline
from daemon.gateway.gateway import EtradeGateway
from daemon.orders import etrade
from daemon.orders.desk.config import UpstreamConfig
from daemon.orders.journal import Entry
from daemon.orders.model import Order
from daemon.orders.tracker import OrderTracker
from daemon.session import RefusedAtAuthentication

LIST_STATUSES = ("OPEN", "EXECUTED", "CANCELLED", "INDIVIDUAL_FILLS", "CANCEL_REQUESTED", "EXPIRED", "REJECTED")
DEFAULT_LIST_DAYS = 30
MAX_LIST = 500
UNKNOWN_ACCOUNT_CODES = {100, 102, 253, 7001}


def unknown_account(key: str) -> NotFound:
    return NotFound(ErrorCode.UNKNOWN_ACCOUNT, f"E*TRADE does not know the account {key!r}")


class OrdersUpstream:
    """The Orders module's requests through the gateway (its rate limits, its session)."""

    def __init__(self, gateway: EtradeGateway, http: EtradeHttp, config: UpstreamConfig) -> None:
        self._gateway = gateway
        # The raw client only for its send function: the gateway signs and rate-limits it and sends it
        # exactly once (``gateway.once``), but has no JSON-body POST/PUT of its own.
        self._send_json: Callable[..., Any] = http.send_json
        self._config = config

    def deadline(self) -> Deadline:
        """The budget of one order request: E*TRADE's timeout plus room for a rate-limit slot."""
        return Deadline.after(self._config.upstream_timeout + 5.0)

    async def read(self, path: str, params: dict[str, str]) -> Any:
        """A GET of the Orders module: rate limited, retried when transient (reads are idempotent)."""
        return await self._gateway.get_json("orders", path, params, self.deadline())

    async def send(self, method: str, path: str, body: dict[str, Any]) -> Any:
        """A POST/PUT of the Orders module: rate limited, sent exactly once, never retried here."""
        return await self._gateway.once("orders", self._send_json, method, path, body, deadline=self.deadline())

    async def account_json(self, key: str, method: str, suffix: str, body: dict[str, Any]) -> Any:
        """A preview: asked again once after a 401 that renewed the session (a preview places nothing)."""
        path = f"/v1/accounts/{key}{suffix}"
        try:
            try:
                return await self.send(method, path, body)
            except RefusedAtAuthentication as refused:
                if not refused.session_usable:
                    raise
                # A preview places nothing, so asking again after the renewal is safe.
                return await self.send(method, path, body)
        except EtradeApiError as exc:
            if exc.etrade_code in UNKNOWN_ACCOUNT_CODES and exc.http_status < 500:
                raise unknown_account(key) from None
            raise


class OrderReads:
    """list and get; every order seen on the way feeds the tracker (the one source of status changes)."""

    def __init__(
        self, upstream: OrdersUpstream, clock: Clock, tracker: OrderTracker, account_changed: Callable[[str], None]
    ) -> None:
        self._upstream = upstream
        self._clock = clock
        self._tracker = tracker
        self._account_changed = account_changed

    def _observe(self, key: str, orders: list[Order]) -> None:
        """A status that changed since this daemon last saw the order (a fill, a cancel completing,
        an expiry) moves cash or positions: drop cached account data and tell subscribers."""
        if self._tracker.observe(key, orders):
            self._account_changed(key)

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

    async def recent_orders(self, key: str, entries: list[Entry]) -> list[Order]:
        """The account's orders from the day before its oldest entry to tomorrow (for reconciliation)."""
        oldest = min(e.created_at for e in entries if e.account_id_key == key)
        start = datetime.fromtimestamp(oldest, ET).date() - timedelta(days=1)
        end = datetime.fromtimestamp(self._clock.now(), ET).date() + timedelta(days=1)
        params = {"fromDate": start.strftime("%m%d%Y"), "toDate": end.strftime("%m%d%Y"), "count": "100"}
        return await self._fetch_orders(key, params, MAX_LIST)

    async def _fetch_orders(self, key: str, params: dict[str, str], limit: int) -> list[Order]:
        orders: list[Order] = []
        marker: str | None = None
        for _ in range(MAX_LIST // 25 + 1):
            page_params = dict(params)
            if marker:
                page_params["marker"] = marker
            try:
                payload = await self._upstream.read(f"/v1/accounts/{key}/orders", page_params)
            except EtradeApiError as exc:
                if exc.etrade_code in UNKNOWN_ACCOUNT_CODES and exc.http_status < 500:
                    raise unknown_account(key) from None
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
            payload = await self._upstream.read(f"/v1/accounts/{key}/orders/{order_id}", {})
        except EtradeApiError as exc:
            if exc.etrade_code in UNKNOWN_ACCOUNT_CODES and exc.http_status < 500:
                raise unknown_account(key) from None
            if exc.http_status < 500:
                raise NotFound(ErrorCode.ORDER_NOT_FOUND, f"E*TRADE has no order {order_id} in this account") from None
            raise
        orders, _ = etrade.parse_orders(payload, key)
        self._observe(key, orders)
        found = next((o for o in orders if o.order_id == order_id), None)
        if found is None:
            raise NotFound(ErrorCode.ORDER_NOT_FOUND, f"E*TRADE has no order {order_id} in this account")
        return found
