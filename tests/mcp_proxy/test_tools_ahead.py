"""The proxy registers its tools in the background once the client's first request is answered, not
at start-up and not on the first ``tools/list`` or ``tools/call`` (which would pay for it)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp import Client

from mcp_proxy.order_tools import TradingAwareServer
from mcp_proxy.server import DaemonLink, build_server

pytestmark = pytest.mark.anyio


async def test_tools_are_registered_after_the_handshake_without_being_asked_for(tmp_path: Path) -> None:
    server = build_server(DaemonLink(tmp_path / "nobody-listens.sock"))
    assert isinstance(server, TradingAwareServer)
    assert server._deferred_tools  # nothing built at start-up
    async with Client(server):
        with anyio.fail_after(10):
            await server.tools_registered_ahead.wait()  # no request about tools was made
        assert not server._deferred_tools
        assert "get_stock_quote" in {tool.name for tool in server._tool_manager.list_tools()}
