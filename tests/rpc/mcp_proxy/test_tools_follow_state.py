"""The offered tools follow the daemon: the order-changing tools are there only while it can trade
(not read-only, not halted, a usable E*TRADE session), and every change is announced with
``notifications/tools/list_changed`` — tested on the emulator's clock and through halt/resume."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.subscriptions import ResourceUpdated, ToolsListChanged
from mcp.types import ResourceUpdatedNotification, ToolListChangedNotification

from broker_client.client import BrokerClient
from daemon.app import build_app
from daemon.etrade.emulator_clock import EmulatorClock
from daemon.rpc.server import start_server
from daemon.secret_store import MemorySecretStore
from emulator import Emulator
from mcp_proxy.live import LiveUpdates
from mcp_proxy.server import DaemonLink, build_server
from tests.harness.daemons import RunningDaemon, daemon_settings, login

pytestmark = pytest.mark.anyio

ORDER_CHANGING = {"preview_order", "place_order_confirmed", "cancel_order", "cancel_order_confirmed"}
SESSION_URI = "etrade://session/status"


@pytest.fixture
async def trading_daemon(emulator: Emulator, short_dir: Path) -> AsyncIterator[RunningDaemon]:
    """A daemon with trading enabled, on the emulator's clock, its timers driven by the test."""
    emulator.clock.set(datetime.fromisoformat("2026-11-24T23:30:00-05:00"))
    emulator.clock.freeze()
    store = MemorySecretStore()
    settings = daemon_settings(emulator, read_only=False)
    app = await build_app(settings, clock=EmulatorClock(emulator.clock), store=store)
    server, lock = await start_server(app, short_dir / "run" / "broker.sock")
    try:
        yield RunningDaemon(app=app, socket=short_dir / "run" / "broker.sock", emulator=emulator, store=store)
    finally:
        await server.stop(grace=None)
        await app.close()
        lock.release()


class ToolNotices:
    def __init__(self) -> None:
        self.send, self.receive = anyio.create_memory_object_stream[str](100)

    async def handler(self, message: Any) -> None:
        if isinstance(message, ToolListChangedNotification):
            await self.send.send("tools")
        elif isinstance(message, ResourceUpdatedNotification):
            await self.send.send(str(message.params.uri))

    async def next(self) -> str:
        with anyio.fail_after(10):
            return await self.receive.receive()

    def close(self) -> None:
        self.send.close()
        self.receive.close()


async def offered(client: Client) -> set[str]:
    return {tool.name for tool in (await client.list_tools()).tools}


async def midnight_and_login(trading_daemon: RunningDaemon, client: Client, next_notice: Any) -> None:
    assert await offered(client) >= ORDER_CHANGING
    # Midnight US Eastern on the emulator's clock; the daemon's midnight job runs.
    trading_daemon.emulator.clock.set(datetime.fromisoformat("2026-11-25T00:00:01-05:00"))
    assert await trading_daemon.app.keeper.expire_at_midnight() is True
    assert await next_notice() == "tools"
    tools = await offered(client)
    assert not ORDER_CHANGING & tools
    assert {"get_stock_quote", "list_orders"} <= tools  # reads stay, and answer with the fix
    async with trading_daemon.client() as operator:
        await login(operator)  # the human logs in again: the order tools are back
    assert await next_notice() == "tools"
    assert await offered(client) >= ORDER_CHANGING


async def test_order_tools_leave_at_midnight_et_and_come_back_with_a_login_legacy(
    trading_daemon: RunningDaemon,
) -> None:
    async with trading_daemon.client() as operator:
        await login(operator)
    link = DaemonLink(trading_daemon.socket)
    live = LiveUpdates(link)
    notices = ToolNotices()

    async def next_tools_notice() -> str:
        while (notice := await notices.next()) == SESSION_URI:
            pass  # unsubscribed here, but harmless if a client subscribed earlier
        return notice

    async with Client(build_server(link, live=live), mode="legacy", message_handler=notices.handler) as client:
        with anyio.fail_after(10):
            await live.wait_for_connection()
        await midnight_and_login(trading_daemon, client, next_tools_notice)
    notices.close()
    await link.close()


async def test_order_tools_leave_at_midnight_et_and_come_back_with_a_login_modern(
    trading_daemon: RunningDaemon,
) -> None:
    async with trading_daemon.client() as operator:
        await login(operator)
    link = DaemonLink(trading_daemon.socket)
    live = LiveUpdates(link)
    async with (
        Client(build_server(link, live=live)) as client,
        client.listen(resource_subscriptions=[SESSION_URI], tools_list_changed=True) as stream,
    ):
        with anyio.fail_after(10):
            await live.wait_for_connection()

        async def next_tools_notice() -> str:
            with anyio.fail_after(10):
                while not isinstance(event := await anext(stream), ToolsListChanged):
                    assert event == ResourceUpdated(SESSION_URI)  # the session resource changes too
            return "tools"

        await midnight_and_login(trading_daemon, client, next_tools_notice)
    await link.close()


async def test_order_tools_leave_on_halt_and_return_on_resume(trading_daemon: RunningDaemon) -> None:
    async with trading_daemon.client() as operator:
        await login(operator)
        link = DaemonLink(trading_daemon.socket)
        live = LiveUpdates(link)
        notices = ToolNotices()
        async with Client(build_server(link, live=live), mode="legacy", message_handler=notices.handler) as client:
            with anyio.fail_after(10):
                await live.wait_for_connection()
            assert await offered(client) >= ORDER_CHANGING
            await operator.halt("checking something")
            assert await notices.next() == "tools"
            assert not ORDER_CHANGING & await offered(client)
            await operator.resume()
            assert await notices.next() == "tools"
            assert await offered(client) >= ORDER_CHANGING
        notices.close()
        await link.close()


async def test_read_only_daemon_never_offers_order_changing_tools(daemon: RunningDaemon, broker: BrokerClient) -> None:
    link = DaemonLink(daemon.socket)
    async with Client(build_server(link)) as client:
        tools = await offered(client)
    await link.close()
    assert not ORDER_CHANGING & tools
    assert "list_orders" in tools
