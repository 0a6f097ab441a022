"""The History service: transactions and the alert inbox."""

from __future__ import annotations

import grpc

from daemon.accounts.history import TransactionPage
from daemon.app import BrokerApp
from daemon.gateway.deadline import Deadline
from daemon.rpc.convert.common import to_message
from daemon.rpc.rpc_errors import translate_errors
from protos.broker.v1 import history_pb2, history_pb2_grpc

Ctx = grpc.aio.ServicerContext


def transactions_message(page: TransactionPage) -> history_pb2.ListTransactionsResponse:
    return to_message(
        history_pb2.ListTransactionsResponse,
        page,
        transactions=[to_message(history_pb2.Transaction, t) for t in page.transactions],
        summary=to_message(history_pb2.TransactionSummary, page.summary),
    )


class HistoryServicer(history_pb2_grpc.HistoryServicer):
    def __init__(self, app: BrokerApp) -> None:
        self.app = app

    @translate_errors
    async def ListTransactions(
        self,
        request: history_pb2.ListTransactionsRequest,
        context: Ctx[history_pb2.ListTransactionsRequest, history_pb2.ListTransactionsResponse],
    ) -> history_pb2.ListTransactionsResponse:
        page = await self.app.history.transactions(
            request.account_id_key,
            start_date=request.start_date,
            end_date=request.end_date,
            kinds=list(request.kinds),
            symbol=request.symbol,
            limit=request.limit,
            deadline=Deadline.after(context.time_remaining()),
        )
        return transactions_message(page)

    @translate_errors
    async def GetTransaction(
        self,
        request: history_pb2.GetTransactionRequest,
        context: Ctx[history_pb2.GetTransactionRequest, history_pb2.GetTransactionResponse],
    ) -> history_pb2.GetTransactionResponse:
        details = await self.app.history.transaction(
            request.account_id_key, request.transaction_id, deadline=Deadline.after(context.time_remaining())
        )
        return to_message(
            history_pb2.GetTransactionResponse,
            details,
            transaction=to_message(history_pb2.Transaction, details.transaction),
        )
