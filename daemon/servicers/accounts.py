from __future__ import annotations

import grpc

from daemon import convert
from daemon.app import BrokerApp
from daemon.deadline import Deadline
from daemon.rpc_errors import translate_errors
from protos.broker.v1 import accounts_pb2, accounts_pb2_grpc

Ctx = grpc.aio.ServicerContext


class AccountsServicer(accounts_pb2_grpc.AccountsServicer):
    def __init__(self, app: BrokerApp) -> None:
        self.app = app

    @translate_errors
    async def ListAccounts(
        self,
        request: accounts_pb2.ListAccountsRequest,
        context: Ctx[accounts_pb2.ListAccountsRequest, accounts_pb2.ListAccountsResponse],
    ) -> accounts_pb2.ListAccountsResponse:
        accounts = await self.app.accounts.accounts(
            include_closed=request.include_closed,
            fresh=request.fresh,
            deadline=Deadline.after(context.time_remaining()),
        )
        return accounts_pb2.ListAccountsResponse(accounts=[convert.account(a) for a in accounts])

    @translate_errors
    async def GetBalance(
        self,
        request: accounts_pb2.GetBalanceRequest,
        context: Ctx[accounts_pb2.GetBalanceRequest, accounts_pb2.GetBalanceResponse],
    ) -> accounts_pb2.GetBalanceResponse:
        balance = await self.app.accounts.balance(
            request.account_id_key, deadline=Deadline.after(context.time_remaining())
        )
        return accounts_pb2.GetBalanceResponse(balance=convert.balance(balance))

    @translate_errors
    async def GetPortfolio(
        self,
        request: accounts_pb2.GetPortfolioRequest,
        context: Ctx[accounts_pb2.GetPortfolioRequest, accounts_pb2.GetPortfolioResponse],
    ) -> accounts_pb2.GetPortfolioResponse:
        deadline = Deadline.after(context.time_remaining())
        return convert.portfolio(await self.app.accounts.portfolio(request.account_id_key, deadline=deadline))

    @translate_errors
    async def GetPosition(
        self,
        request: accounts_pb2.GetPositionRequest,
        context: Ctx[accounts_pb2.GetPositionRequest, accounts_pb2.GetPositionResponse],
    ) -> accounts_pb2.GetPositionResponse:
        details = await self.app.accounts.position(
            request.account_id_key, request.symbol, deadline=Deadline.after(context.time_remaining())
        )
        return convert.position_details(details)
