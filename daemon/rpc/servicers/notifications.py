"""Notifications service: channels with their health, a test, storing a channel's secrets.

``TestChannels`` and ``StoreChannelSecret`` are the operator's calls (the MCP proxy is refused, as for
the other operator calls); ``ListChannels`` is not secret (masked URLs only) but is the operator's too:
the model has no use for the human's channels. No answer ever carries a URL in clear.
"""

from __future__ import annotations

import grpc

from broker_client.errors import ErrorCode, InvalidRequest
from daemon.app import BrokerApp
from daemon.notifications.channels import ChannelHealth
from daemon.notifications.hub import NotificationHub
from daemon.rpc.rpc_errors import translate_errors
from daemon.rpc.servicers.operator import operator_name
from protos.broker.v1 import notifications_pb2, notifications_pb2_grpc

Ctx = grpc.aio.ServicerContext


def health_message(health: ChannelHealth) -> notifications_pb2.ChannelHealth:
    return notifications_pb2.ChannelHealth(
        name=health.name,
        delivered=health.delivered,
        failed=health.failed,
        dropped=health.dropped,
        last_error=health.last_error,
        last_error_unix_ms=int(health.last_error_at * 1000),
        last_success_unix_ms=int(health.last_success_at * 1000),
        queued=health.queued,
    )


class NotificationsServicer(notifications_pb2_grpc.NotificationsServicer):
    def __init__(self, app: BrokerApp) -> None:
        self.app = app

    def _hub(self) -> NotificationHub:
        hub = self.app.notifications
        if hub is None:
            raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, "this daemon was started without notifications")
        return hub

    @translate_errors
    async def ListChannels(
        self,
        request: notifications_pb2.ListChannelsRequest,
        context: Ctx[notifications_pb2.ListChannelsRequest, notifications_pb2.ListChannelsResponse],
    ) -> notifications_pb2.ListChannelsResponse:
        operator_name(context)
        views = await self._hub().view()
        return notifications_pb2.ListChannelsResponse(
            channels=[
                notifications_pb2.Channel(
                    name=v.config.name,
                    type=v.config.type,
                    events=sorted(v.config.events) if v.config.events is not None else [],
                    trusted_for_codes=v.config.trusted_for_codes,
                    masked_url=v.masked_url,
                    ready=v.ready,
                    health=health_message(v.health),
                )
                for v in views
            ]
        )

    @translate_errors
    async def TestChannels(
        self,
        request: notifications_pb2.TestChannelsRequest,
        context: Ctx[notifications_pb2.TestChannelsRequest, notifications_pb2.TestChannelsResponse],
    ) -> notifications_pb2.TestChannelsResponse:
        operator_name(context)
        results = await self._hub().test(request.channel.strip())
        return notifications_pb2.TestChannelsResponse(
            results=[
                notifications_pb2.ChannelTestResult(name=name, ok=error is None, error=error or "")
                for name, error in results
            ]
        )

    @translate_errors
    async def StoreChannelSecret(
        self,
        request: notifications_pb2.StoreChannelSecretRequest,
        context: Ctx[notifications_pb2.StoreChannelSecretRequest, notifications_pb2.StoreChannelSecretResponse],
    ) -> notifications_pb2.StoreChannelSecretResponse:
        operator_name(context)
        masked = await self._hub().store_secret(request.channel.strip(), request.url, request.signing_secret)
        return notifications_pb2.StoreChannelSecretResponse(
            masked_url=masked, secret_store=self.app.session.info().secret_store
        )
