"""The daemon's event bus (directly) and its Events.Subscribe stream (over a real socket)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from broker_client.client import BrokerClient
from daemon.events import EventBus, EventKind, SubscriptionOverflow
from protos.broker.v1 import events_pb2
from tests.conftest import RunningDaemon

pytestmark = pytest.mark.anyio


class FixedClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.value = now

    def now(self) -> float:
        return self.value


async def test_a_subscription_starts_with_who_is_talking_then_gets_events_in_order() -> None:
    bus = EventBus(FixedClock(), instance_id="abc123")
    subscription = bus.subscribe()
    first = bus.publish(EventKind.WATCHLIST_CHANGED, "tech", change="created")
    second = bus.publish(EventKind.SESSION_STATE_CHANGED, "EXPIRED", previous="ACTIVE")
    received = [await anext(subscription) for _ in range(3)]
    assert [(e.kind, e.subject) for e in received] == [
        (EventKind.STREAM_STARTED, "abc123"),
        (EventKind.WATCHLIST_CHANGED, "tech"),
        (EventKind.SESSION_STATE_CHANGED, "EXPIRED"),
    ]
    assert (first.sequence, second.sequence) == (1, 2)
    assert received[1].attributes == {"change": "created"}
    assert received[2].at == 1_800_000_000.0


async def test_a_subscription_gets_only_the_kinds_it_asked_for() -> None:
    bus = EventBus(FixedClock(), instance_id="i")
    subscription = bus.subscribe([EventKind.TRADING_STATE_CHANGED])
    bus.publish(EventKind.WATCHLIST_CHANGED, "tech")
    bus.publish(EventKind.TRADING_STATE_CHANGED, "disabled", reason="halt")
    subscription.close()
    kinds = [event.kind async for event in subscription]
    assert kinds == [EventKind.STREAM_STARTED, EventKind.TRADING_STATE_CHANGED]


async def test_every_subscriber_gets_every_event() -> None:
    bus = EventBus(FixedClock(), instance_id="i")
    one, two = bus.subscribe(), bus.subscribe()
    bus.publish(EventKind.WATCHLIST_CHANGED, "a")
    for subscription in (one, two):
        subscription.close()
        assert [e.subject async for e in subscription] == ["i", "a"]


async def test_a_subscriber_that_falls_behind_is_ended_and_the_publisher_never_blocks() -> None:
    bus = EventBus(FixedClock(), instance_id="i", max_backlog=3)
    slow = bus.subscribe()
    for n in range(10):  # would block forever if publishing waited for the reader
        bus.publish(EventKind.WATCHLIST_CHANGED, str(n))
    assert bus.subscriber_count == 0
    received = [(await anext(slow)).subject for _ in range(3)]
    assert received == ["i", "0", "1"]
    with pytest.raises(SubscriptionOverflow):
        await anext(slow)
    with pytest.raises(SubscriptionOverflow):  # stays ended
        await anext(slow)


async def test_closing_the_bus_ends_every_stream_and_later_subscriptions() -> None:
    bus = EventBus(FixedClock(), instance_id="i")
    subscription = bus.subscribe()
    bus.close()
    assert [e.kind async for e in subscription] == [EventKind.STREAM_STARTED]
    late = bus.subscribe()
    assert [e async for e in late] == []
    bus.publish(EventKind.WATCHLIST_CHANGED, "nobody listens")  # harmless


async def next_event(stream: AsyncIterator[events_pb2.Event]) -> events_pb2.Event:
    with anyio.fail_after(10):
        return await anext(stream)


async def test_subscribe_streams_daemon_events_over_grpc(daemon: RunningDaemon) -> None:
    async with daemon.client() as listener, daemon.client() as editor:
        stream = listener.subscribe_events()
        started = await next_event(stream)
        assert started.kind == events_pb2.EVENT_KIND_STREAM_STARTED
        assert started.subject == daemon.app.events.instance_id
        await editor.add_to_watchlist("tech", ["aapl", "msft"])
        changed = await next_event(stream)
        assert changed.kind == events_pb2.EVENT_KIND_WATCHLIST_CHANGED
        assert (changed.subject, dict(changed.attributes)) == ("tech", {"change": "created"})
        assert changed.sequence >= 1
        await stream.aclose()


async def test_a_filtered_grpc_subscription_skips_other_kinds(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        stream = client.subscribe_events([events_pb2.EVENT_KIND_TRADING_STATE_CHANGED])
        assert (await next_event(stream)).kind == events_pb2.EVENT_KIND_STREAM_STARTED
        await client.add_to_watchlist("skipped", ["SPY"])
        daemon.app.events.publish(EventKind.TRADING_STATE_CHANGED, "disabled", reason="halt")
        event = await next_event(stream)
        assert (event.kind, event.subject) == (events_pb2.EVENT_KIND_TRADING_STATE_CHANGED, "disabled")
        await stream.aclose()


async def test_the_stream_ends_cleanly_when_the_daemon_shuts_down(daemon: RunningDaemon) -> None:
    async with BrokerClient(daemon.socket) as client:
        stream = client.subscribe_events()
        await next_event(stream)
        daemon.app.events.close()  # what the daemon does first on SIGTERM
        with anyio.fail_after(10):
            rest = [event async for event in stream]
        assert rest == []
