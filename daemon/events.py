"""The daemon's event bus: what changed, for clients that follow the daemon live.

Domain code publishes small facts ("watchlist tech changed", "the session expired", "order 42
filled"); every open subscription receives the ones it asked for, in publication order, each with
a sequence number. The gRPC ``Events.Subscribe`` stream is one subscription per client; the MCP
proxy turns events into ``notifications/tools/list_changed`` and resource-updated notifications.

Every client with access to the socket may subscribe, so an event must never carry a secret
(tokens, verifier, confirmation codes): name what changed, and let clients fetch the details
through the RPC that guards them.

Delivery is best effort and never blocks a publisher: a subscriber that falls more than
``max_backlog`` events behind is ended (its iterator raises :class:`SubscriptionOverflow`), and
because events carry no replay, a client that reconnects must refetch what it shows. Publishing and
subscribing happen on the daemon's event loop (publish from another thread with
``loop.call_soon_threadsafe``).

No gRPC here; tested directly.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType

from daemon.clock import Clock

log = logging.getLogger(__name__)

DEFAULT_MAX_BACKLOG = 256


class EventKind(enum.Enum):
    """What happened. The names are the wire names (``EVENT_KIND_<NAME>`` in events.proto)."""

    #: First event of every stream; ``subject`` is the daemon instance id, so a client can tell a
    #: reconnection to the same daemon from a restarted one (whose state may differ entirely).
    STREAM_STARTED = "STREAM_STARTED"
    #: A watchlist was created, changed or deleted. subject: its name; attributes: ``change``
    #: (created, updated, deleted).
    WATCHLIST_CHANGED = "WATCHLIST_CHANGED"
    #: The E*TRADE session changed state (issue 3). subject: the new state (ACTIVE, INACTIVE,
    #: EXPIRED, NEEDS_LOGIN, ...); attributes: ``previous``.
    SESSION_STATE_CHANGED = "SESSION_STATE_CHANGED"
    #: Trading was enabled or disabled: read-only switch, halt, resume, circuit breaker (issue 4).
    #: subject: ``enabled`` or ``disabled``; attributes: ``reason``.
    TRADING_STATE_CHANGED = "TRADING_STATE_CHANGED"
    #: An order's status or filled quantity changed: placed, partly filled, executed, cancelled,
    #: rejected, expired — published once per change by ``daemon/orders/tracker.py``, also for orders
    #: placed outside this system. subject: the account_id_key; attributes: ``order_id``, ``status``,
    #: ``previous_status`` (empty for an order seen the first time), ``symbol``, ``side``, ``quantity``,
    #: ``filled_quantity``, ``average_price`` (when known), ``placed_by`` (``this_system``/``outside``).
    ORDER_STATUS_CHANGED = "ORDER_STATUS_CHANGED"
    #: Pending confirmations changed: created, confirmed, rejected, voided, expired (issue 4).
    #: subject: the pending id; attributes: ``change``.
    PENDING_ORDERS_CHANGED = "PENDING_ORDERS_CHANGED"
    #: The session ends soon (midnight US Eastern). subject: the expiry (ISO, US Eastern);
    #: attributes: ``minutes_left``.
    SESSION_EXPIRING = "SESSION_EXPIRING"
    #: A weekday morning with a dead session. subject: the session state; attributes: ``text``, ``command``.
    LOGIN_REMINDER = "LOGIN_REMINDER"
    #: A journal entry needs the operator. subject: the entry id; attributes: ``reason``, ``entry_kind``,
    #: ``action``, ``quantity``, ``symbol``.
    JOURNAL_ATTENTION = "JOURNAL_ATTENTION"


@dataclass(frozen=True, slots=True)
class Event:
    """One fact, numbered in publication order (1, 2, ... per daemon instance)."""

    sequence: int
    kind: EventKind
    subject: str
    at: float
    attributes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


class SubscriptionOverflow(Exception):
    """The subscriber fell too far behind and was ended; reconnect and refetch."""


_CLOSED = object()
_OVERFLOWED = object()


class Subscription:
    """An async iterator over the events of the kinds asked for. Close it (or use ``async with``)."""

    def __init__(self, bus: EventBus, kinds: frozenset[EventKind] | None, max_backlog: int) -> None:
        self._bus = bus
        self.kinds = kinds
        # One slot above the backlog for the end marker, so ending never blocks.
        self._queue: asyncio.Queue[Event | object] = asyncio.Queue(max_backlog + 1)
        self._max_backlog = max_backlog
        self._ended = False

    def wants(self, kind: EventKind) -> bool:
        return self.kinds is None or kind in self.kinds or kind is EventKind.STREAM_STARTED

    def _offer(self, event: Event) -> None:
        if self._ended:
            return
        if self._queue.qsize() >= self._max_backlog:
            log.warning("events: a subscriber fell %d events behind; ending its stream", self._max_backlog)
            self._end(_OVERFLOWED)
            return
        self._queue.put_nowait(event)

    def _end(self, marker: object) -> None:
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(marker)
            self._bus._forget(self)

    def close(self) -> None:
        """Stop receiving; a pending ``__anext__`` returns StopAsyncIteration."""
        self._end(_CLOSED)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        item = await self._queue.get()
        if item is _CLOSED:
            self._queue.put_nowait(_CLOSED)  # stay ended for any later __anext__
            raise StopAsyncIteration
        if item is _OVERFLOWED:
            self._queue.put_nowait(_OVERFLOWED)
            raise SubscriptionOverflow(f"fell more than {self._max_backlog} events behind")
        assert isinstance(item, Event)
        return item

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class EventBus:
    """Fan-out of :class:`Event` to :class:`Subscription` objects; never blocks a publisher."""

    def __init__(self, clock: Clock, *, instance_id: str, max_backlog: int = DEFAULT_MAX_BACKLOG) -> None:
        self._clock = clock
        self.instance_id = instance_id
        self._max_backlog = max_backlog
        self._sequence = itertools.count(1)
        self._subscriptions: list[Subscription] = []
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def publish(self, kind: EventKind, subject: str = "", **attributes: str) -> Event:
        """Number the event and hand it to every subscription that wants its kind."""
        event = Event(
            sequence=next(self._sequence),
            kind=kind,
            subject=subject,
            at=self._clock.now(),
            attributes=MappingProxyType(dict(attributes)),
        )
        log.debug("events: #%d %s %s", event.sequence, kind.value, subject)
        for subscription in list(self._subscriptions):
            if subscription.wants(kind):
                subscription._offer(event)
        return event

    def subscribe(self, kinds: Iterable[EventKind] | None = None) -> Subscription:
        """A new subscription (all kinds if ``kinds`` is empty or None), starting with STREAM_STARTED."""
        wanted = frozenset(kinds) if kinds else None
        subscription = Subscription(self, wanted, self._max_backlog)
        if self._closed:
            subscription.close()
            return subscription
        self._subscriptions.append(subscription)
        # Not numbered: it is addressed to this subscriber only and says who is talking.
        subscription._offer(Event(0, EventKind.STREAM_STARTED, self.instance_id, self._clock.now()))
        return subscription

    def close(self) -> None:
        """End every subscription (daemon shutdown): streams finish instead of being cut."""
        self._closed = True
        for subscription in list(self._subscriptions):
            subscription.close()

    def _forget(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
