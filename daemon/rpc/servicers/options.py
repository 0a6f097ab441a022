"""The Options service: option expirations, chains and quotes (``daemon/market/options.py``)."""

from __future__ import annotations

import grpc

from daemon.app import BrokerApp
from daemon.gateway.deadline import Deadline
from daemon.market.options import OptionChain, OptionContract, OptionsData
from daemon.rpc.convert.common import to_message
from daemon.rpc.rpc_errors import translate_errors
from protos.broker.v1 import options_pb2, options_pb2_grpc

Ctx = grpc.aio.ServicerContext

_SIDES = {
    options_pb2.OPTION_SIDE_UNSPECIFIED: "BOTH",
    options_pb2.OPTION_SIDE_BOTH: "BOTH",
    options_pb2.OPTION_SIDE_CALLS: "CALLS",
    options_pb2.OPTION_SIDE_PUTS: "PUTS",
}


def _contract(contract: OptionContract | None) -> options_pb2.OptionContract | None:
    return None if contract is None else to_message(options_pb2.OptionContract, contract)


def chain_message(chain: OptionChain) -> options_pb2.GetOptionChainResponse:
    """The response message for a chain (rows keep the side that was asked for)."""
    rows = [
        options_pb2.OptionChainRow(strike=row.strike, call=_contract(row.call), put=_contract(row.put))
        for row in chain.rows
    ]
    return to_message(options_pb2.GetOptionChainResponse, chain, rows=rows)


class OptionsServicer(options_pb2_grpc.OptionsServicer):
    def __init__(self, app: BrokerApp) -> None:
        self.app = app
        # Lives as long as the server: its caches follow the app's gateway and clock.
        self.options = OptionsData(app.gateway, app.clock)

    @translate_errors
    async def GetOptionExpirations(
        self,
        request: options_pb2.GetOptionExpirationsRequest,
        context: Ctx[options_pb2.GetOptionExpirationsRequest, options_pb2.GetOptionExpirationsResponse],
    ) -> options_pb2.GetOptionExpirationsResponse:
        found = await self.options.expirations(
            request.symbol, request.expiry_type, deadline=Deadline.after(context.time_remaining())
        )
        return options_pb2.GetOptionExpirationsResponse(
            symbol=found.symbol,
            expirations=[to_message(options_pb2.OptionExpiration, e) for e in found.expirations],
        )

    @translate_errors
    async def GetOptionChain(
        self,
        request: options_pb2.GetOptionChainRequest,
        context: Ctx[options_pb2.GetOptionChainRequest, options_pb2.GetOptionChainResponse],
    ) -> options_pb2.GetOptionChainResponse:
        chain = await self.options.chain(
            request.symbol,
            expiration=request.expiration,
            strike_near=request.strike_near if request.HasField("strike_near") else None,
            strike_count=request.strike_count,
            side=_SIDES.get(request.side, "BOTH"),
            include_weeklies=request.include_weeklies,
            deadline=Deadline.after(context.time_remaining()),
        )
        return chain_message(chain)

    @translate_errors
    async def GetOptionQuote(
        self,
        request: options_pb2.GetOptionQuoteRequest,
        context: Ctx[options_pb2.GetOptionQuoteRequest, options_pb2.GetOptionQuoteResponse],
    ) -> options_pb2.GetOptionQuoteResponse:
        quote = await self.options.quote(request.symbol, deadline=Deadline.after(context.time_remaining()))
        return to_message(options_pb2.GetOptionQuoteResponse, quote, contract=_contract(quote.contract))
