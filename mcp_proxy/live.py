"""Live updates: follow the daemon's event stream and tell the MCP client what changed.

Once the client's first request has been answered (so start-up and the handshake never wait on it),
a background task imports the daemon client on a worker thread, subscribes to ``Events.Subscribe``
and translates each event into MCP change notifications:

- ``notifications/tools/list_changed`` when the offered tools may have changed (session state,
  trading enabled or disabled);
- ``notifications/resources/updated`` for the resources a client subscribed to (a watchlist, an
  account's positions after an order status change, ...);
- ``notifications/resources/list_changed`` when a watchlist is created or deleted (each one is a
  listed resource).

Both protocol eras are served. On 2026-07-28 connections the SDK's ``subscriptions/listen``
handler delivers what is published on :attr:`ClientNotifier.bus` (it filters by each stream's
subscriptions). On 2025-11-25 connections there is no stream to publish on: the notifier remembers
the connection's session (a server middleware sees every request) and the URIs subscribed with
``resources/subscribe``, and sends the notifications on the connection itself.

When the daemon stops or restarts the task reconnects with a capped backoff, and after every
reconnection it tells the client to refetch (tools list changed, every subscribed resource
updated), because events are not replayed. It ends with the server, i.e. on stdin EOF.

To react to a new kind of daemon event, add it to :data:`EVENT_EFFECTS`.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server import MCPServer
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.subscriptions import ResourcesListChanged, ResourceUpdated, ServerEvent, ToolsListChanged
from mcp.types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from mcp_proxy.account_resources import ACCOUNT_SUMMARY, PORTFOLIO_POSITIONS, WATCHLISTS_URI, watchlist_uri
from mcp_proxy.resources import SESSION_STATUS_URI

if TYPE_CHECKING:
    from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
    from mcp.server.session import ServerSession

    from mcp_proxy.daemon_link import DaemonLink

log = logging.getLogger(__name__)

ORDERS_RECENT = "orders://{account_id_key}/recent"  # the orders resource of part B (issue 6 with issue 4)
FILLS_RECENT = "fills://recent"


def _watchlist_changed(subject: str, attributes: Mapping[str, str]) -> list[ServerEvent]:
    events: list[ServerEvent] = [ResourceUpdated(WATCHLISTS_URI), ResourceUpdated(watchlist_uri(subject))]
    if attributes.get("change") in ("created", "deleted"):
        events.insert(0, ResourcesListChanged())  # each watchlist is a listed resource
    return events


def _tools_may_have_changed(subject: str, attributes: Mapping[str, str]) -> list[ServerEvent]:
    return [ToolsListChanged()]


def _session_changed(subject: str, attributes: Mapping[str, str]) -> list[ServerEvent]:
    return [ToolsListChanged(), ResourceUpdated(SESSION_STATUS_URI)]


def _order_status_changed(subject: str, attributes: Mapping[str, str]) -> list[ServerEvent]:
    # A fill moves positions and cash as well as the order list.
    events: list[ServerEvent] = [
        ResourceUpdated(ORDERS_RECENT.format(account_id_key=subject)),
        ResourceUpdated(PORTFOLIO_POSITIONS.format(account_id_key=subject)),
        ResourceUpdated(ACCOUNT_SUMMARY.format(account_id_key=subject)),
    ]
    if attributes.get("filled_quantity", "0") not in ("", "0") or attributes.get("status") == "EXECUTED":
        events.append(ResourceUpdated(FILLS_RECENT))
    return events


#: Daemon event kind (events.proto without the EVENT_KIND_ prefix) → the MCP events it causes,
#: from the event's subject and attributes. Kinds not listed cause nothing.
EVENT_EFFECTS: dict[str, Callable[[str, Mapping[str, str]], list[ServerEvent]]] = {
    "WATCHLIST_CHANGED": _watchlist_changed,
    "SESSION_STATE_CHANGED": _session_changed,
    "TRADING_STATE_CHANGED": _tools_may_have_changed,
    "ORDER_STATUS_CHANGED": _order_status_changed,
}


def effects_of(kind: str, subject: str, attributes: Mapping[str, str]) -> list[ServerEvent]:
    """The MCP events a daemon event causes."""
    effect = EVENT_EFFECTS.get(kind)
    return effect(subject, attributes) if effect is not None else []


class ClientNotifier:
    """Delivers change notifications to the MCP client in whichever era it speaks."""

    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()
        self._legacy_session: ServerSession | None = None
        self._legacy_uris: set[str] = set()
        # URIs named by open 2026-07-28 listen streams (counted: several streams may name one).
        self._listened_uris: collections.Counter[str] = collections.Counter()
        self.first_request_answered = anyio.Event()

    @property
    def subscribed_uris(self) -> set[str]:
        return self._legacy_uris | {uri for uri, count in self._listened_uris.items() if count > 0}

    async def middleware(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        """Server middleware: remember the legacy session and the URIs of modern listen streams."""
        modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        if ctx.method == "subscriptions/listen" and modern:
            notifications = (ctx.params or {}).get("notifications") or {}
            uris = [u for u in notifications.get("resourceSubscriptions") or () if isinstance(u, str)]
            self._listened_uris.update(uris)
            self.first_request_answered.set()  # the stream never "answers"; it is under way
            try:
                return await call_next(ctx)
            finally:
                self._listened_uris.subtract(uris)
        try:
            return await call_next(ctx)
        finally:
            if not modern and ctx.method != "initialize":
                # The handshake is over: the connection can carry notifications now.
                self._legacy_session = ctx.session
            if ctx.request_id is not None:
                self.first_request_answered.set()

    async def subscribe(self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams) -> EmptyResult:
        """``resources/subscribe`` (2025-11-25)."""
        self._legacy_session = ctx.session
        self._legacy_uris.add(str(params.uri))
        return EmptyResult()

    async def unsubscribe(self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams) -> EmptyResult:
        """``resources/unsubscribe`` (2025-11-25)."""
        self._legacy_uris.discard(str(params.uri))
        return EmptyResult()

    async def deliver(self, event: ServerEvent) -> None:
        """Publish to listen streams (2026-07-28) and send on the legacy connection (2025-11-25)."""
        await self.bus.publish(event)
        session = self._legacy_session
        if session is None:
            return
        try:
            if isinstance(event, ToolsListChanged):
                await session.send_tool_list_changed()
            elif isinstance(event, ResourcesListChanged):
                await session.send_resource_list_changed()
            elif isinstance(event, ResourceUpdated) and event.uri in self._legacy_uris:
                await session.send_resource_updated(event.uri)
        except Exception as exc:  # the client went away; nothing to tell any more
            log.debug("live: could not notify the client: %s", exc)
            self._legacy_session = None

    async def refetch_everything(self) -> None:
        """After a gap in the event stream: whatever the client shows may be stale."""
        await self.deliver(ToolsListChanged())
        await self.deliver(ResourcesListChanged())
        for uri in sorted(self.subscribed_uris):
            await self.deliver(ResourceUpdated(uri))


class LiveUpdates:
    """Follows the daemon's events for the lifetime of the MCP server and notifies the client."""

    def __init__(self, link: DaemonLink, *, min_retry: float = 0.25, max_retry: float = 1.0) -> None:
        self.link = link
        self.notifier = ClientNotifier()
        self.min_retry = min_retry
        self.max_retry = max_retry
        self.connections = 0  # successful subscriptions so far (tests wait on it)
        self._connected = anyio.Event()

    async def wait_for_connection(self, count: int = 1) -> None:
        """Return once the follower has subscribed ``count`` times in total."""
        while self.connections < count:
            await self._connected.wait()

    def install(self, server: MCPServer) -> None:
        """Serve 2025-11-25 ``resources/subscribe`` and advertise change notifications in that era.

        MCPServer has no public hook for either: the low-level server's request handlers and its
        initialization options are set here directly (the SDK's own Client reads the same
        attribute). On 2026-07-28 the SDK derives both from ``subscriptions/listen``.
        """
        lowlevel = server._lowlevel_server
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, self.notifier.subscribe)
        lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, self.notifier.unsubscribe)
        original = lowlevel.create_initialization_options

        def with_change_notifications(
            notification_options: NotificationOptions | None = None, *args: Any, **kwargs: Any
        ) -> Any:
            options = notification_options or NotificationOptions(tools_changed=True, resources_changed=True)
            return original(options, *args, **kwargs)

        setattr(lowlevel, "create_initialization_options", with_change_notifications)  # noqa: B010

    @asynccontextmanager
    async def lifespan(self, server: MCPServer) -> AsyncIterator[dict[str, Any]]:
        """The server's lifespan: follow the daemon in the background while the server runs."""
        async with anyio.create_task_group() as group:
            group.start_soon(self.link.connect_after_handshake, self.notifier.first_request_answered)
            group.start_soon(self.follow)
            try:
                yield {}
            finally:
                group.cancel_scope.cancel()

    def _socket_path(self) -> str:
        from broker_client import paths

        return str(paths.client_socket_path(self.link.socket_path))

    async def follow(self) -> None:
        """Subscribe, translate, and on any loss reconnect; never raises (it would stop the server)."""
        await self.notifier.first_request_answered.wait()
        try:
            # grpc and the generated code cost ~100 ms to import: not on the event loop's time.
            client_class = await anyio.to_thread.run_sync(_import_client)
        except Exception:
            log.exception("live: cannot load the daemon client; no live updates")
            return
        delay = self.min_retry
        while True:
            if not await anyio.Path(self._socket_path()).exists():
                # No daemon socket: nothing to subscribe to, and no gRPC call left pending when the
                # proxy stops (a cancelled call to a missing socket completes after its loop is gone).
                await anyio.sleep(delay)
                delay = min(delay * 2, self.max_retry)
                continue
            client = client_class(self.link.socket_path, client_name="etrade-mcp/live")
            try:
                async for kind, subject, attributes in _events(client):
                    if kind == "STREAM_STARTED":
                        log.info("live: following daemon %s", subject)
                        if self.connections:
                            await self.notifier.refetch_everything()
                        self.connections += 1
                        self._connected.set()
                        self._connected = anyio.Event()
                        delay = self.min_retry
                        continue
                    for event in effects_of(kind, subject, attributes):
                        await self.notifier.deliver(event)
                log.info("live: the daemon ended the event stream; reconnecting")
            except Exception as exc:
                log.info("live: no event stream from the daemon (%s); retrying in %.1f s", exc, delay)
            finally:
                with anyio.CancelScope(shield=True):
                    await client.close()
            await anyio.sleep(delay)
            delay = min(delay * 2, self.max_retry)


def _import_client() -> type[Any]:
    from broker_client.client import BrokerClient

    return BrokerClient


async def _events(client: Any) -> AsyncIterator[tuple[str, str, dict[str, str]]]:
    """(kind name, subject, attributes) of each daemon event, without exposing protobuf types."""
    from protos.broker.v1 import events_pb2

    async for event in client.subscribe_events():
        yield events_pb2.EventKind.Name(event.kind).removeprefix("EVENT_KIND_"), event.subject, dict(event.attributes)
