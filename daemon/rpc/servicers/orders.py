"""Orders service: thin translation between orders.proto and ``daemon.orders.service``."""

from __future__ import annotations

from typing import Any

import grpc

from broker_client.metadata_keys import CLIENT_KEY
from daemon.accounts.accounts import check_account_key
from daemon.app import BrokerApp
from daemon.orders.validation import OrderInput
from daemon.rpc.convert import orders as convert
from daemon.rpc.rpc_errors import translate_errors
from protos.broker.v1 import orders_pb2, orders_pb2_grpc

Ctx = grpc.aio.ServicerContext


def client_name(context: Any) -> str:
    """Who is calling, as the client declares itself (etrade-mcp/…, etradectl/…); for the audit log."""
    for key, value in context.invocation_metadata() or ():
        if key == CLIENT_KEY and isinstance(value, str):
            return value[:64]
    return ""


def order_input(spec: orders_pb2.OrderSpec) -> OrderInput:
    return OrderInput(
        account_id_key=spec.account_id_key,
        symbol=spec.symbol,
        action=spec.action,
        quantity=spec.quantity,
        price_type=spec.price_type,
        limit_price=spec.limit_price,
        stop_price=spec.stop_price,
        order_term=spec.order_term,
        market_session=spec.market_session,
        all_or_none=spec.all_or_none,
    )


class OrdersServicer(orders_pb2_grpc.OrdersServicer):
    def __init__(self, app: BrokerApp) -> None:
        self.app = app

    @translate_errors
    async def ListOrders(
        self,
        request: orders_pb2.ListOrdersRequest,
        context: Ctx[orders_pb2.ListOrdersRequest, orders_pb2.ListOrdersResponse],
    ) -> orders_pb2.ListOrdersResponse:
        orders = await self.app.orders.list_orders(
            request.account_id_key,
            status=request.status,
            from_date=request.from_date,
            to_date=request.to_date,
            symbol=request.symbol,
            limit=request.limit or 25,
        )
        return orders_pb2.ListOrdersResponse(orders=[convert.order(o) for o in orders])

    @translate_errors
    async def GetOrder(
        self, request: orders_pb2.GetOrderRequest, context: Ctx[orders_pb2.GetOrderRequest, orders_pb2.GetOrderResponse]
    ) -> orders_pb2.GetOrderResponse:
        found = await self.app.orders.get_order(request.account_id_key, request.order_id)
        return orders_pb2.GetOrderResponse(order=convert.order(found))

    @translate_errors
    async def PreviewOrder(
        self,
        request: orders_pb2.PreviewOrderRequest,
        context: Ctx[orders_pb2.PreviewOrderRequest, orders_pb2.PreviewOrderResponse],
    ) -> orders_pb2.PreviewOrderResponse:
        orders = self.app.orders
        pending = await orders.preview_order(order_input(request.order), client=client_name(context))
        return orders_pb2.PreviewOrderResponse(pending=convert.pending(pending, orders.pending))

    @translate_errors
    async def PlaceConfirmed(
        self,
        request: orders_pb2.PlaceConfirmedRequest,
        context: Ctx[orders_pb2.PlaceConfirmedRequest, orders_pb2.PlaceConfirmedResponse],
    ) -> orders_pb2.PlaceConfirmedResponse:
        orders = self.app.orders
        result = await orders.place_confirmed(
            request.pending_id, request.confirmation_code, client=client_name(context)
        )
        return convert.placed(result, orders.pending)

    @translate_errors
    async def RequestCancel(
        self,
        request: orders_pb2.RequestCancelRequest,
        context: Ctx[orders_pb2.RequestCancelRequest, orders_pb2.RequestCancelResponse],
    ) -> orders_pb2.RequestCancelResponse:
        orders = self.app.orders
        pending = await orders.request_cancel(request.account_id_key, request.order_id, client=client_name(context))
        return orders_pb2.RequestCancelResponse(pending=convert.pending(pending, orders.pending))

    @translate_errors
    async def CancelConfirmed(
        self,
        request: orders_pb2.CancelConfirmedRequest,
        context: Ctx[orders_pb2.CancelConfirmedRequest, orders_pb2.CancelConfirmedResponse],
    ) -> orders_pb2.CancelConfirmedResponse:
        orders = self.app.orders
        result = await orders.cancel_confirmed(
            request.pending_id, request.confirmation_code, client=client_name(context)
        )
        return convert.cancelled(result, orders.pending)

    @translate_errors
    async def RecentFills(
        self,
        request: orders_pb2.RecentFillsRequest,
        context: Ctx[orders_pb2.RecentFillsRequest, orders_pb2.RecentFillsResponse],
    ) -> orders_pb2.RecentFillsResponse:
        key = check_account_key(request.account_id_key) if request.account_id_key else ""
        limit = max(1, min(request.limit or 20, 200))
        tracker, watcher = self.app.orders.tracker, self.app.watcher
        return orders_pb2.RecentFillsResponse(
            fills=[convert.fill(f) for f in tracker.recent_fills(key, limit)],
            watcher_state=watcher.state.value,
            working_orders=len(tracker.working()),
            last_checked_at_unix_ms=int(watcher.last_round_at * 1000) if watcher.last_round_at else 0,
        )
