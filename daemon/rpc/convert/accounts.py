"""Accounts and portfolios → accounts.proto messages."""

from __future__ import annotations

from daemon import models
from daemon.rpc.convert.common import to_message
from daemon.rpc.convert.market import quote
from protos.broker.v1 import accounts_pb2


def account(a: models.Account) -> accounts_pb2.Account:
    return to_message(accounts_pb2.Account, a)


def balance(b: models.Balance) -> accounts_pb2.Balance:
    return to_message(accounts_pb2.Balance, b)


def position(p: models.Position) -> accounts_pb2.Position:
    return to_message(accounts_pb2.Position, p)


def portfolio(p: models.Portfolio) -> accounts_pb2.GetPortfolioResponse:
    return accounts_pb2.GetPortfolioResponse(
        account_id_key=p.account_id_key,
        positions=[position(x) for x in p.positions],
        totals=to_message(accounts_pb2.PortfolioTotals, p.totals),
        fetched_at_unix_ms=p.fetched_at_unix_ms,
    )


def position_details(d: models.PositionDetails) -> accounts_pb2.GetPositionResponse:
    response = accounts_pb2.GetPositionResponse(
        account_id_key=d.account_id_key,
        positions=[position(x) for x in d.positions],
        lots=[to_message(accounts_pb2.Lot, lot) for lot in d.lots],
    )
    if d.quote is not None:
        response.quote.CopyFrom(quote(d.quote))
    return response
