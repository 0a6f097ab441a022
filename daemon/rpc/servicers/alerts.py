"""The Alerts service: the user's E*TRADE alert inbox. Deleting is the operator's call."""

from __future__ import annotations

import grpc

from daemon.app import BrokerApp
from daemon.gateway.deadline import Deadline
from daemon.rpc.convert.common import to_message
from daemon.rpc.rpc_errors import translate_errors
from daemon.rpc.servicers.operator import operator_name
from protos.broker.v1 import alerts_pb2, alerts_pb2_grpc

Ctx = grpc.aio.ServicerContext


class AlertsServicer(alerts_pb2_grpc.AlertsServicer):
    def __init__(self, app: BrokerApp) -> None:
        self.app = app

    @translate_errors
    async def ListAlerts(
        self,
        request: alerts_pb2.ListAlertsRequest,
        context: Ctx[alerts_pb2.ListAlertsRequest, alerts_pb2.ListAlertsResponse],
    ) -> alerts_pb2.ListAlertsResponse:
        found = await self.app.alerts.alerts(
            category=request.category,
            status=request.status,
            search=request.search,
            limit=request.limit,
            deadline=Deadline.after(context.time_remaining()),
        )
        return alerts_pb2.ListAlertsResponse(
            alerts=[to_message(alerts_pb2.Alert, a) for a in found.alerts], total=found.total
        )

    @translate_errors
    async def GetAlert(
        self,
        request: alerts_pb2.GetAlertRequest,
        context: Ctx[alerts_pb2.GetAlertRequest, alerts_pb2.GetAlertResponse],
    ) -> alerts_pb2.GetAlertResponse:
        details = await self.app.alerts.alert(request.alert_id, deadline=Deadline.after(context.time_remaining()))
        return to_message(alerts_pb2.GetAlertResponse, details, alert=to_message(alerts_pb2.Alert, details.alert))

    @translate_errors
    async def DeleteAlerts(
        self,
        request: alerts_pb2.DeleteAlertsRequest,
        context: Ctx[alerts_pb2.DeleteAlertsRequest, alerts_pb2.DeleteAlertsResponse],
    ) -> alerts_pb2.DeleteAlertsResponse:
        operator_name(context)  # the model may read alerts, never delete them (docs/safety.md)
        result = await self.app.alerts.delete(
            list(request.alert_ids), deadline=Deadline.after(context.time_remaining())
        )
        return alerts_pb2.DeleteAlertsResponse(deleted=list(result.deleted), failed=list(result.failed))
