"""Live updates: daemon events reach the MCP client as change notifications, in both eras, and
survive a daemon restart."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.shared.subscriptions import ResourcesListChanged, ResourceUpdated, ToolsListChanged
from mcp.types import ResourceListChangedNotification, ResourceUpdatedNotification, ToolListChangedNotification

from broker_client.client import BrokerClient
from daemon.app import BrokerApp, build_app
from daemon.events import EventKind
from daemon.rpc.server import InstanceLock, start_server
from daemon.secret_store import MemorySecretStore
from emulator import Emulator
from mcp_proxy.live import effects_of
from mcp_proxy.server import DaemonLink, build_server
from tests.harness.daemons import daemon_settings

pytestmark = pytest.mark.anyio

TECH = "market://watchlist/tech"


@dataclass
class Daemon:
    """An in-process daemon that a test can stop and start again on the same socket."""

    emulator: Emulator
    socket: Path
    store: MemorySecretStore
    app: BrokerApp | None = None
    server: Any = None
    lock: InstanceLock | None = None

    async def start(self) -> BrokerApp:
        self.app = await build_app(daemon_settings(self.emulator), store=self.store)
        self.server, self.lock = await start_server(self.app, self.socket)
        return self.app

    async def stop(self) -> None:
        assert self.app is not None and self.lock is not None
        self.app.events.close()  # as on SIGTERM: streams end first
        await self.server.stop(grace=None)
        await self.app.close()
        self.lock.release()
        self.app = None

    async def edit(self, name: str, *symbols: str) -> None:
        async with BrokerClient(self.socket, client_name="tests") as client:
            await client.add_to_watchlist(name, symbols)


@pytest.fixture
async def restartable(emulator: Emulator, short_dir: Path) -> AsyncIterator[Daemon]:
    daemon = Daemon(emulator, short_dir / "run" / "broker.sock", MemorySecretStore())
    await daemon.start()
    try:
        yield daemon
    finally:
        if daemon.app is not None:
            await daemon.stop()


class Notifications:
    """Server notifications received by a legacy client, awaited without sleeping."""

    def __init__(self) -> None:
        self.send, self.receive = anyio.create_memory_object_stream[Any](100)

    def __enter__(self) -> Notifications:
        return self

    def __exit__(self, *exc: object) -> None:
        self.send.close()
        self.receive.close()

    async def handler(self, message: Any) -> None:
        if isinstance(
            message, ResourceUpdatedNotification | ToolListChangedNotification | ResourceListChangedNotification
        ):
            await self.send.send(message)

    async def next(self) -> str:
        """``tools``, ``resources`` (the list changed) or the updated resource's URI."""
        with anyio.fail_after(10):
            message = await self.receive.receive()
        if isinstance(message, ToolListChangedNotification):
            return "tools"
        if isinstance(message, ResourceListChangedNotification):
            return "resources"
        return str(message.params.uri)


async def subscribe(client: Client, uri: str) -> None:
    with warnings.catch_warnings():  # resources/subscribe is how the 2025-11-25 era does it
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        await client.subscribe_resource(uri)


def test_daemon_events_translate_to_mcp_events() -> None:
    assert effects_of("WATCHLIST_CHANGED", "tech", {"change": "updated"}) == [
        ResourceUpdated("market://watchlists"),
        ResourceUpdated(TECH),
    ]
    for change in ("created", "deleted"):  # each watchlist is a listed resource
        assert effects_of("WATCHLIST_CHANGED", "tech", {"change": change}) == [
            ResourcesListChanged(),
            ResourceUpdated("market://watchlists"),
            ResourceUpdated(TECH),
        ]
    assert effects_of("TRADING_STATE_CHANGED", "disabled", {"reason": "halt"}) == [ToolsListChanged()]
    assert effects_of("SESSION_STATE_CHANGED", "EXPIRED", {}) == [
        ToolsListChanged(),
        ResourceUpdated("etrade://session/status"),
    ]
    order_effects = [
        ResourceUpdated("orders://KEY/recent"),
        ResourceUpdated("portfolio://KEY/positions"),
        ResourceUpdated("account://KEY/summary"),
    ]
    assert effects_of("ORDER_STATUS_CHANGED", "KEY", {"order_id": "7", "status": "OPEN", "filled_quantity": "0"}) == (
        order_effects
    )
    # A fill (complete or partial) also updates the recent fills.
    assert effects_of("ORDER_STATUS_CHANGED", "KEY", {"order_id": "7", "status": "EXECUTED"}) == [
        *order_effects,
        ResourceUpdated("fills://recent"),
    ]
    assert effects_of("ORDER_STATUS_CHANGED", "KEY", {"order_id": "7", "status": "OPEN", "filled_quantity": "3"}) == [
        *order_effects,
        ResourceUpdated("fills://recent"),
    ]
    assert effects_of("PENDING_ORDERS_CHANGED", "p1", {}) == []
    assert effects_of("A_KIND_FROM_A_NEWER_DAEMON", "x", {}) == []


async def test_capabilities_advertise_change_notifications_in_both_eras(restartable: Daemon) -> None:
    for mode in ("legacy", "auto"):
        link = DaemonLink(restartable.socket)
        async with Client(build_server(link), mode=mode) as client:
            capabilities = client.server_capabilities
        await link.close()
        assert capabilities.tools is not None and capabilities.tools.list_changed is True, mode
        assert capabilities.resources is not None and capabilities.resources.subscribe is True, mode
        assert capabilities.resources.list_changed is True, mode
        assert capabilities.completions is not None, mode


async def test_legacy_clients_get_updates_for_subscribed_resources_only(restartable: Daemon) -> None:
    from mcp_proxy.live import LiveUpdates

    link = DaemonLink(restartable.socket)
    live = LiveUpdates(link)
    with Notifications() as notifications:
        await legacy_updates(restartable, link, live, notifications)
    await link.close()


async def legacy_updates(restartable: Daemon, link: DaemonLink, live: Any, notifications: Notifications) -> None:
    async with Client(build_server(link, live=live), mode="legacy", message_handler=notifications.handler) as client:
        await subscribe(client, TECH)
        with anyio.fail_after(10):
            await live.wait_for_connection()
        await restartable.edit("tech", "AAPL")  # created: the resource list changed too
        assert [await notifications.next(), await notifications.next()] == ["resources", TECH]
        await restartable.edit("income", "SCHD")  # created, not subscribed: only the list changed
        assert await notifications.next() == "resources"
        await restartable.edit("income", "VZ")  # updated, not subscribed: nothing
        await restartable.edit("tech", "MSFT")
        assert await notifications.next() == TECH  # the next one is the subscribed one

        assert restartable.app is not None
        restartable.app.events.publish(EventKind.TRADING_STATE_CHANGED, "disabled", reason="halt")
        assert await notifications.next() == "tools"


async def test_modern_clients_get_updates_on_their_listen_stream(restartable: Daemon) -> None:
    from mcp_proxy.live import LiveUpdates

    link = DaemonLink(restartable.socket)
    live = LiveUpdates(link)
    async with (
        Client(build_server(link, live=live)) as client,
        client.listen(resource_subscriptions=[TECH], tools_list_changed=True, resources_list_changed=True) as stream,
    ):
        with anyio.fail_after(10):
            await live.wait_for_connection()
        await restartable.edit("tech", "AAPL")
        with anyio.fail_after(10):
            assert [await anext(stream), await anext(stream)] == [ResourcesListChanged(), ResourceUpdated(TECH)]
        await restartable.edit("income", "SCHD")
        with anyio.fail_after(10):
            assert await anext(stream) == ResourcesListChanged()
        await restartable.edit("income", "VZ")  # updated and not subscribed: nothing
        await restartable.edit("tech", "MSFT")
        with anyio.fail_after(10):
            assert await anext(stream) == ResourceUpdated(TECH)
        assert restartable.app is not None
        restartable.app.events.publish(EventKind.SESSION_STATE_CHANGED, "EXPIRED", previous="ACTIVE")
        with anyio.fail_after(10):
            assert await anext(stream) == ToolsListChanged()
    await link.close()


async def test_the_proxy_follows_a_restarted_daemon_and_asks_the_client_to_refetch(restartable: Daemon) -> None:
    from mcp_proxy.live import LiveUpdates

    link = DaemonLink(restartable.socket)
    live = LiveUpdates(link, min_retry=0.01, max_retry=0.05)
    with Notifications() as notifications:
        await follow_a_restart(restartable, link, live, notifications)
    await link.close()


async def follow_a_restart(restartable: Daemon, link: DaemonLink, live: Any, notifications: Notifications) -> None:
    async with Client(build_server(link, live=live), mode="legacy", message_handler=notifications.handler) as client:
        await subscribe(client, TECH)
        with anyio.fail_after(10):
            await live.wait_for_connection(1)

        await restartable.stop()
        await restartable.start()
        with anyio.fail_after(10):
            await live.wait_for_connection(2)
        # Events may have been missed while it was away: refetch the tools, the resource list and
        # the subscribed resources.
        assert [await notifications.next() for _ in range(3)] == ["tools", "resources", TECH]

        await restartable.edit("tech", "MSFT")  # and the new daemon's events arrive (it starts empty)
        assert [await notifications.next(), await notifications.next()] == ["resources", TECH]
        result = await client.call_tool("list_watchlists", {})
        assert result.structured_content is not None
        assert [w["name"] for w in result.structured_content["watchlists"]] == ["tech"]


async def test_without_a_daemon_the_proxy_keeps_serving_and_connects_when_it_appears(
    emulator: Emulator, short_dir: Path
) -> None:
    from mcp_proxy.live import LiveUpdates

    daemon = Daemon(emulator, short_dir / "run" / "broker.sock", MemorySecretStore())
    link = DaemonLink(daemon.socket)
    live = LiveUpdates(link, min_retry=0.01, max_retry=0.05)
    async with Client(build_server(link, live=live)) as client:
        prompts = await client.list_prompts()  # answered while the follower is still retrying
        assert prompts.prompts
        assert live.connections == 0
        await daemon.start()
        try:
            with anyio.fail_after(10):
                await live.wait_for_connection(1)
        finally:
            await daemon.stop()
    await link.close()
