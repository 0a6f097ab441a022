from __future__ import annotations

import grpc

from daemon.app import BrokerApp
from daemon.gateway.deadline import Deadline
from daemon.rpc.convert import market as convert
from daemon.rpc.convert.common import to_message
from daemon.rpc.rpc_errors import translate_errors
from protos.broker.v1 import market_pb2, market_pb2_grpc

Ctx = grpc.aio.ServicerContext

_DETAIL = {
    market_pb2.QUOTE_DETAIL_UNSPECIFIED: "ALL",
    market_pb2.QUOTE_DETAIL_ALL: "ALL",
    market_pb2.QUOTE_DETAIL_FUNDAMENTAL: "FUNDAMENTAL",
    market_pb2.QUOTE_DETAIL_INTRADAY: "INTRADAY",
    market_pb2.QUOTE_DETAIL_WEEK_52: "WEEK_52",
}


class MarketServicer(market_pb2_grpc.MarketServicer):
    def __init__(self, app: BrokerApp) -> None:
        self.app = app

    @translate_errors
    async def GetQuotes(
        self,
        request: market_pb2.GetQuotesRequest,
        context: Ctx[market_pb2.GetQuotesRequest, market_pb2.GetQuotesResponse],
    ) -> market_pb2.GetQuotesResponse:
        deadline = Deadline.after(context.time_remaining())
        batch = await self.app.market.quotes(
            list(request.symbols), _DETAIL.get(request.detail, "ALL"), deadline=deadline
        )
        return convert.quote_batch(batch)

    @translate_errors
    async def LookupProduct(
        self,
        request: market_pb2.LookupProductRequest,
        context: Ctx[market_pb2.LookupProductRequest, market_pb2.LookupProductResponse],
    ) -> market_pb2.LookupProductResponse:
        products = await self.app.market.lookup(request.search, deadline=Deadline.after(context.time_remaining()))
        return market_pb2.LookupProductResponse(products=[to_message(market_pb2.Product, p) for p in products])
