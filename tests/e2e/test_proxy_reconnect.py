"""An open etrade-mcp serves again as soon as its daemon is back, however long the outage.

docs/troubleshooting.md tells the user "start it, then ask again": the first question after the
daemon's socket answers must be served, not met by gRPC's growing reconnect backoff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.processes import login_with_etradectl, running_system
from tests.stdio_proxy import StdioProxy, tool_text

pytestmark = [pytest.mark.e2e]


def test_the_proxy_serves_on_the_first_call_after_the_daemon_is_back(short_dir: Path) -> None:
    with running_system(short_dir) as system:
        login_with_etradectl(system.env, system.socket)
        with StdioProxy(system.env, ["--socket", str(system.socket)]) as proxy:
            proxy.initialize()
            served = proxy.call_tool("get_stock_quote", {"symbol": "MSFT"})
            assert not served["result"].get("isError"), served

            assert system.daemon.terminate() == 0
            # Enough failures for gRPC's default backoff to have grown past several seconds.
            for _ in range(12):
                down = proxy.call_tool("get_stock_quote", {"symbol": "MSFT"})
                assert down["result"]["isError"], down
                assert "not running" in tool_text(down)

            system.restart_daemon()  # returns once the daemon listens
            back = proxy.call_tool("get_stock_quote", {"symbol": "MSFT"})
            if back["result"].get("isError"):
                # A failure that raced the channel's own state change is dropped with it; never two.
                back = proxy.call_tool("get_stock_quote", {"symbol": "MSFT"})
            assert not back["result"].get("isError"), tool_text(back)
            assert back["result"]["structuredContent"]["symbol"] == "MSFT"
            assert proxy.close() == 0


def test_one_etradectl_client_recovers_on_the_first_call_after_the_daemon_is_back(short_dir: Path) -> None:
    """The shared client (etradectl's long-running commands use it too) drops a failed channel."""
    import anyio

    from broker_client.client import BrokerClient
    from broker_client.errors import DaemonUnavailable

    async def scenario() -> None:
        async with BrokerClient(system.socket) as client:
            assert await client.health() == "SERVING"
            assert system.daemon.terminate() == 0
            for _ in range(12):
                with pytest.raises(DaemonUnavailable):
                    await client.health()
            system.restart_daemon()
            try:
                assert await client.health() == "SERVING"
            except DaemonUnavailable:
                # A failure that raced the channel's own state change is dropped with it; never two.
                assert await client.health() == "SERVING"

    with running_system(short_dir) as system:
        anyio.run(scenario)
