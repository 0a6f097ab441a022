from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import grpc

from broker_client.errors import ErrorCode, InvalidRequest, RateLimited
from broker_client.metadata_keys import CLIENT_KEY
from daemon.app import BrokerApp
from daemon.events import Event, EventKind, SubscriptionOverflow
from daemon.rpc.rpc_errors import translate_stream_errors
from protos.broker.v1 import events_pb2, events_pb2_grpc

Ctx = grpc.aio.ServicerContext
log = logging.getLogger(__name__)


def event_message(event: Event) -> events_pb2.Event:
    return events_pb2.Event(
        sequence=event.sequence,
        kind=events_pb2.EventKind.Value(f"EVENT_KIND_{event.kind.value}"),
        subject=event.subject,
        attributes=dict(event.attributes),
        at_unix_ms=int(event.at * 1000),
    )


def _kind(value: int) -> EventKind:
    try:
        return EventKind(events_pb2.EventKind.Name(value).removeprefix("EVENT_KIND_"))  # type: ignore[arg-type]
    except ValueError:
        raise InvalidRequest(
            ErrorCode.INVALID_ARGUMENT, f"unknown event kind {value}; this daemon is older than its client"
        ) from None


class EventsServicer(events_pb2_grpc.EventsServicer):
    def __init__(self, app: BrokerApp) -> None:
        self.app = app

    @translate_stream_errors
    async def Subscribe(
        self, request: events_pb2.SubscribeRequest, context: Ctx[events_pb2.SubscribeRequest, events_pb2.Event]
    ) -> AsyncIterator[events_pb2.Event]:
        kinds = [_kind(k) for k in request.kinds if k != events_pb2.EVENT_KIND_UNSPECIFIED]
        client = dict(context.invocation_metadata() or ()).get(CLIENT_KEY, "a client")
        async with self.app.events.subscribe(kinds) as subscription:
            log.info("events: %s subscribed", client)
            try:
                async for event in subscription:
                    yield event_message(event)
                log.info("events: ended the stream of %s", client)
            except SubscriptionOverflow as exc:
                raise RateLimited(
                    ErrorCode.RATE_LIMITED,
                    f"the event stream {exc}; subscribe again and refetch",
                    hint="subscribe again; events are not replayed, so refetch what you show",
                ) from None
