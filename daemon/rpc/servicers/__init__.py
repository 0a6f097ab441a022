"""Thin gRPC servicers: read the request, call domain code through ``BrokerApp``, convert the answer.

May import: ``daemon.app`` and the domain packages below it, ``daemon.rpc.convert``,
``daemon.rpc.rpc_errors``, ``grpc`` and ``protos``.
"""

from __future__ import annotations

import grpc

from daemon.app import BrokerApp
from daemon.rpc.servicers.accounts import AccountsServicer
from daemon.rpc.servicers.alerts import AlertsServicer
from daemon.rpc.servicers.analytics import AnalyticsServicer
from daemon.rpc.servicers.events import EventsServicer
from daemon.rpc.servicers.history import HistoryServicer
from daemon.rpc.servicers.market import MarketServicer
from daemon.rpc.servicers.notifications import NotificationsServicer
from daemon.rpc.servicers.operator import OperatorServicer
from daemon.rpc.servicers.options import OptionsServicer
from daemon.rpc.servicers.orders import OrdersServicer
from daemon.rpc.servicers.session import SessionServicer
from daemon.rpc.servicers.watchlists import WatchlistsServicer
from protos.broker.v1 import (
    accounts_pb2_grpc,
    alerts_pb2_grpc,
    analytics_pb2_grpc,
    events_pb2_grpc,
    history_pb2_grpc,
    market_pb2_grpc,
    notifications_pb2_grpc,
    operator_pb2_grpc,
    options_pb2_grpc,
    orders_pb2_grpc,
    session_pb2_grpc,
    watchlists_pb2_grpc,
)


def add_servicers(server: grpc.aio.Server, app: BrokerApp) -> None:
    session_pb2_grpc.add_SessionServicer_to_server(SessionServicer(app), server)
    market_pb2_grpc.add_MarketServicer_to_server(MarketServicer(app), server)
    accounts_pb2_grpc.add_AccountsServicer_to_server(AccountsServicer(app), server)
    watchlists_pb2_grpc.add_WatchlistsServicer_to_server(WatchlistsServicer(app), server)
    analytics_pb2_grpc.add_AnalyticsServicer_to_server(AnalyticsServicer(app), server)
    events_pb2_grpc.add_EventsServicer_to_server(EventsServicer(app), server)
    orders_pb2_grpc.add_OrdersServicer_to_server(OrdersServicer(app), server)
    operator_pb2_grpc.add_OperatorServicer_to_server(OperatorServicer(app), server)
    notifications_pb2_grpc.add_NotificationsServicer_to_server(NotificationsServicer(app), server)
    options_pb2_grpc.add_OptionsServicer_to_server(OptionsServicer(app), server)
    history_pb2_grpc.add_HistoryServicer_to_server(HistoryServicer(app), server)
    alerts_pb2_grpc.add_AlertsServicer_to_server(AlertsServicer(app), server)
