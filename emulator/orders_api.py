"""The Orders API's HTTP side: routes, query windows and filters, and the documents E*TRADE answers
for list, details, preview, place, cancel and change (reference §2.3, §3.5-3.9).

The rules themselves (preview first, funds and shares, fills on the emulator clock) live in the
engine, emulator/orders.py; this module only parses requests and renders the engine's state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode

from emulator import errors, universe
from emulator.book import Account
from emulator.clock import EASTERN
from emulator.errors import ApiError
from emulator.market import (
    Phase,
    phase_at,
)
from emulator.order_requests import (
    ACTIONS,
    OrderSpec,
    cancel_order_id,
    order_request,
    parse_body,
)
from emulator.orders import (
    CANCEL_ACCEPTED,
    COMMISSION,
    DEFAULT_COUNT,
    DEFAULT_LIST_WINDOW,
    HISTORY,
    MAX_COUNT,
    NEXT_SESSION,
    PLACED_IN_HOURS,
    PLACED_OUT_OF_HOURS,
    STATUSES,
    EmuOrder,
    OrderEngine,
    Preview,
    _money,
    _ms,
    _quantity,
    _tradable,
    option_level_code,
)
from emulator.routing import Document, Request, Response, Route


def _message(pair: tuple[int, str], kind: str = "WARNING") -> dict[str, object]:
    return {"description": pair[1], "code": pair[0], "type": kind}


def _order_body(spec: OrderSpec, commission: Decimal, total: float) -> dict[str, object]:
    """The ``Order`` element shared by preview and place responses."""
    body: dict[str, object] = {
        "orderTerm": spec.order_term,
        "priceType": spec.price_type,
        "limitPrice": _money(spec.limit_price) if spec.limit_price is not None else 0,
        "stopPrice": _money(spec.stop_price) if spec.stop_price is not None else 0,
        "marketSession": spec.market_session,
        "allOrNone": spec.all_or_none,
        "egQual": "EG_QUAL_NOT_IN_FORCE",
        "estimatedCommission": _money(commission),
        "estimatedTotalAmount": total,
        "netPrice": 0,
        "netBid": 0,
        "netAsk": 0,
        "gcd": 0,
        "ratio": "",
    }
    return body


def _instrument(spec: OrderSpec) -> dict[str, object]:
    instrument = universe.get(spec.symbol)
    return {
        "symbolDescription": instrument.company_name if instrument else spec.symbol,
        "orderAction": spec.action,
        "quantityType": spec.quantity_type,
        "quantity": _quantity(spec.quantity),
        "cancelQuantity": 0.0,
        "reserveOrder": True,
        "reserveQuantity": 0.0,
        "Product": {"symbol": spec.symbol, "securityType": spec.security_type},
    }


def _signed_total(spec: OrderSpec, value: float) -> float:
    """Buys cost (positive), sells bring proceeds (negative), as in the captures (§3.7)."""
    total = value + float(COMMISSION)
    return round(total if spec.is_buy else -(value - float(COMMISSION)), 4)


class OrdersApi:
    """Handlers for the Orders module (rate-limit module ``orders``)."""

    def __init__(self, engine: OrderEngine, resolve: Callable[[Request], Account]) -> None:
        self.engine = engine
        self.resolve = resolve

    def routes(self) -> list[Route]:
        """This module's routes."""
        base = "/v1/accounts/{accountIdKey}/orders"
        post, put = frozenset({"POST"}), frozenset({"PUT"})
        return [
            Route("orders_list", base, self.list_orders, module="orders"),
            Route("order_preview", f"{base}/preview", self.preview, post, module="orders"),
            Route("order_place", f"{base}/place", self.place, post, module="orders"),
            Route("order_cancel", f"{base}/cancel", self.cancel, put, module="orders"),
            Route("order_details", f"{base}/{{orderId:int}}", self.details, module="orders"),
            Route("order_change_preview", f"{base}/{{orderId:int}}/change/preview", self.change_preview, put, "orders"),
            Route("order_change_place", f"{base}/{{orderId:int}}/change/place", self.change_place, put, "orders"),
        ]

    # -- list / details ----------------------------------------------------------------------
    def _window(self, request: Request) -> tuple[datetime, datetime]:
        raw_from, raw_to = request.param("fromDate"), request.param("toDate")
        now = self.engine.clock.now()
        if not raw_from and not raw_to:
            return now - DEFAULT_LIST_WINDOW, now + timedelta(days=1)
        if not raw_from or not raw_to:
            raise ApiError(400, errors.INVALID_DATE_FORMAT[0], "Both fromDate and toDate should be provided.")
        days: list[date] = []
        for raw in (raw_from, raw_to):
            try:
                days.append(datetime.strptime(raw, "%m%d%Y").date())
            except ValueError:
                raise ApiError.bad_request(errors.INVALID_DATE_FORMAT) from None
        start = datetime.combine(days[0], time(0), tzinfo=EASTERN)
        end = datetime.combine(days[1] + timedelta(days=1), time(0), tzinfo=EASTERN)
        if days[1] < days[0]:
            raise ApiError(400, errors.INVALID_DATE_FORMAT[0], "toDate should be greater than fromDate.")
        if start < now - HISTORY:
            raise ApiError.bad_request(errors.INVALID_DATE)
        return start, end

    def _filters(self, request: Request) -> Callable[[EmuOrder], bool]:
        status = (request.param("status") or "").upper()
        if status and status not in STATUSES:
            raise ApiError.invalid_parameter("status")
        symbols = {s.strip().upper() for s in (request.param("symbol") or "").split(",") if s.strip()}
        if len(symbols) > 25:
            raise ApiError(400, errors.INVALID_ORDER, "API supports only 25 symbols.")
        security = (request.param("securityType") or "").upper()
        if security and security not in ("EQ", "OPTN", "MF", "MMF"):
            raise ApiError.invalid_parameter("securityType")
        action = (request.param("transactionType") or "").upper()
        if action and action not in (*ACTIONS, "ATNM", "MF_EXCHANGE", "INVALID"):
            raise ApiError.invalid_parameter("transactionType")
        session = (request.param("marketSession") or "").upper()
        if session and session not in ("REGULAR", "EXTENDED"):
            raise ApiError.invalid_parameter("marketSession")

        def keep(order: EmuOrder) -> bool:
            return (
                (not status or order.status.value == status)
                and (not symbols or order.spec.symbol in symbols)
                and (not security or security == "EQ")
                and (not action or action == "ATNM" or order.spec.action == action)
                and (not session or order.spec.market_session == session)
            )

        return keep

    def list_orders(self, request: Request) -> Document | Response:
        """``GET /v1/accounts/{accountIdKey}/orders`` with filters, dates and marker/count paging."""
        account = self.resolve(request)
        raw_count = request.param("count")
        count = DEFAULT_COUNT
        if raw_count:
            if not raw_count.isdigit() or not 1 <= int(raw_count) <= MAX_COUNT:
                raise ApiError.bad_request(errors.INVALID_ORDER_COUNT)
            count = int(raw_count)
        raw_marker = request.param("marker")
        if raw_marker and not raw_marker.isdigit():
            raise ApiError.invalid_parameter("marker")
        start, end = self._window(request)
        keep = self._filters(request)
        self.engine.sync()
        matching = [o for o in self.engine.orders(account.account_id_key) if start <= o.placed_at < end and keep(o)]
        if raw_marker:
            matching = [o for o in matching if o.order_id <= int(raw_marker)]
        if not matching:
            return Response.no_content()
        page, rest = matching[:count], matching[count:]
        content: dict[str, object] = {}
        if rest:
            marker = str(rest[0].order_id)
            pairs = [(k, v) for k, v in parse_qsl(request.raw_query, keep_blank_values=True) if k.lower() != "marker"]
            content["marker"] = marker
            content["next"] = (
                f"{request.base_url}/v1/accounts/{account.account_id_key}/orders{request.json_suffix}?"
                + urlencode([*pairs, ("marker", marker)])
            )
        content["Order"] = [self._order(request, o) for o in page]
        return Document("OrdersResponse", content)

    def details(self, request: Request) -> Document:
        """``GET /v1/accounts/{accountIdKey}/orders/{orderId}``: one order in the list's shape."""
        account = self.resolve(request)
        self.engine.sync()
        order = self.engine.order(account.account_id_key, int(request.params["orderId"]))
        return Document("OrdersResponse", {"Order": [self._order(request, order)]})

    def _order(self, request: Request, order: EmuOrder) -> dict[str, object]:
        spec = order.spec
        detail: dict[str, object] = {"placedTime": _ms(order.placed_at)}
        if order.executed_at is not None:
            detail["executedTime"] = _ms(order.executed_at)
        price = order.average_price if order.average_price is not None else order.estimated_price
        detail.update(
            {
                "orderValue": round(float(spec.quantity) * price, 4),
                "status": order.status.value,
                "orderTerm": spec.order_term,
                "priceType": spec.price_type,
                "limitPrice": _money(spec.limit_price) if spec.limit_price is not None else 0,
                "stopPrice": _money(spec.stop_price) if spec.stop_price is not None else 0,
                "marketSession": spec.market_session,
                "allOrNone": spec.all_or_none,
                "netPrice": 0,
                "netBid": 0,
                "netAsk": 0,
                "gcd": 0,
                "ratio": "",
            }
        )
        if order.replaces_order_id is not None:
            detail["replacesOrderId"] = order.replaces_order_id
        if order.replaced_by_order_id is not None:
            detail["replacedByOrderId"] = order.replaced_by_order_id
        instrument = universe.get(spec.symbol)
        leg: dict[str, object] = {
            "symbolDescription": instrument.company_name if instrument else spec.symbol,
            "orderAction": spec.action,
            "quantityType": spec.quantity_type,
            "orderedQuantity": _quantity(spec.quantity),
            "filledQuantity": float(order.filled_quantity),
        }
        if order.average_price is not None:
            leg["averageExecutionPrice"] = order.average_price
        leg.update(
            {
                "estimatedCommission": _money(order.commission),
                "estimatedFees": 0.0,
                "Product": {"symbol": spec.symbol, "securityType": spec.security_type},
            }
        )
        detail["Instrument"] = [leg]
        return {
            "orderId": order.order_id,
            "details": f"{request.base_url}/v1/accounts/{order.account_key}/orders/{order.order_id}{request.json_suffix}",
            "orderType": "EQ",
            "OrderDetail": [detail],
        }

    # -- preview / place ---------------------------------------------------------------------
    def _preview_document(self, account: Account, preview: Preview, available: float) -> Document:
        spec = preview.request.spec
        snap = self.engine.market.observe(spec.symbol, self.engine.clock.now())
        value = round(float(spec.quantity) * self.engine.price_basis(spec, snap), 4)
        total = _signed_total(spec, value)
        order = _order_body(spec, COMMISSION, total)
        if not _tradable(spec, snap.phase):
            order["messages"] = {"Message": [_message(NEXT_SESSION)]}
        order["Instrument"] = [_instrument(spec)]
        impact = value if spec.action in ("BUY", "BUY_TO_COVER", "SELL_SHORT") else 0.0
        bp_details = {
            "currentBp": available,
            "currentOor": 0.0,
            "currentNetBp": available,
            "currentOrderImpact": round(impact, 2),
            "netBp": round(available - impact, 2),
        }
        content: dict[str, object] = {
            "orderType": "EQ",
            "totalOrderValue": total,
            "previewTime": _ms(preview.created_at),
            "dstFlag": bool(preview.created_at.astimezone(EASTERN).dst()),
            "accountId": account.account_id,
            "optionLevelCd": option_level_code(account.option_level),
            "marginLevelCd": "MARGIN_TRADING_ALLOWED" if account.is_margin else "MARGIN_TRADING_NOT_ALLOWED",
        }
        if account.is_margin:
            content["marginBpDetails"] = {"marginable": bp_details, "nonMarginable": {"currentBp": available}}
        else:
            content["cashBpDetails"] = {"settled": bp_details, "settledUnsettled": {"currentBp": available}}
        content["Order"] = [order]
        content["PreviewIds"] = [{"previewId": preview.preview_id}]
        content["Disclosure"] = {
            "ehDisclosureFlag": spec.market_session == "EXTENDED",
            "ahDisclosureFlag": False,
            "conditionalDisclosureFlag": False,
            "aoDisclosureFlag": spec.all_or_none,
        }
        return Document("PreviewOrderResponse", content)

    def _place_document(self, account: Account, order: EmuOrder) -> Document:
        spec = order.spec
        value = round(float(spec.quantity) * order.estimated_price, 4)
        body = _order_body(spec, order.commission, _signed_total(spec, value))
        in_hours = phase_at(order.placed_at) is Phase.REGULAR
        body["messages"] = {"Message": [_message(PLACED_IN_HOURS if in_hours else PLACED_OUT_OF_HOURS)]}
        body["Instrument"] = [_instrument(spec)]
        content: dict[str, object] = {
            "orderType": "EQ",
            "dstFlag": bool(order.placed_at.astimezone(EASTERN).dst()),
            "optionLevelCd": option_level_code(account.option_level),
            "marginLevelCd": "MARGIN_TRADING_ALLOWED" if account.is_margin else "MARGIN_TRADING_NOT_ALLOWED",
            "placedTime": _ms(order.placed_at),
            "accountId": account.account_id,
            "Order": [body],
            "OrderIds": [{"orderId": order.order_id}],
        }
        return Document("PlaceOrderResponse", content)

    def preview(self, request: Request) -> Document:
        """``POST /v1/accounts/{accountIdKey}/orders/preview``."""
        account = self.resolve(request)
        order = order_request(parse_body(request, "PreviewOrderRequest"), place=False)
        self.engine.sync()
        preview, available = self.engine.preview(account, order)
        return self._preview_document(account, preview, available)

    def place(self, request: Request) -> Document:
        """``POST /v1/accounts/{accountIdKey}/orders/place``."""
        account = self.resolve(request)
        order = order_request(parse_body(request, "PlaceOrderRequest"), place=True)
        self.engine.sync()
        return self._place_document(account, self.engine.place(account, order))

    def change_preview(self, request: Request) -> Document:
        """``PUT /v1/accounts/{accountIdKey}/orders/{orderId}/change/preview``."""
        account = self.resolve(request)
        order = order_request(parse_body(request, "PreviewOrderRequest"), place=False)
        self.engine.sync()
        preview, available = self.engine.preview(account, order, change_of=int(request.params["orderId"]))
        return self._preview_document(account, preview, available)

    def change_place(self, request: Request) -> Document:
        """``PUT /v1/accounts/{accountIdKey}/orders/{orderId}/change/place``."""
        account = self.resolve(request)
        order = order_request(parse_body(request, "PlaceOrderRequest"), place=True)
        self.engine.sync()
        placed = self.engine.place(account, order, change_of=int(request.params["orderId"]))
        return self._place_document(account, placed)

    def cancel(self, request: Request) -> Document:
        """``PUT /v1/accounts/{accountIdKey}/orders/cancel``."""
        account = self.resolve(request)
        order_id = cancel_order_id(parse_body(request, "CancelOrderRequest"))
        self.engine.sync()
        order = self.engine.cancel(account, order_id)
        assert order.cancel_requested_at is not None
        return Document(
            "CancelOrderResponse",
            {
                "accountId": account.account_id,
                "orderId": order.order_id,
                "cancelTime": _ms(order.cancel_requested_at),
                "Messages": {"Message": [_message(CANCEL_ACCEPTED)]},
            },
        )


def synced(engine: OrderEngine, routes: Iterable[Route]) -> list[Route]:
    """The same routes with the order engine brought up to date before each handler runs, so
    balances and portfolios always include the fills the clock has produced."""

    def wrap(route: Route) -> Route:
        handler = route.handler

        def run(request: Request) -> Document | Response:
            engine.sync()
            return handler(request)

        return Route(route.name, route.pattern, run, route.methods, route.module, route.guard)

    return [wrap(route) for route in routes]


__all__ = ["OrdersApi", "synced"]
