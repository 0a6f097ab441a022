"""The MCP SDK internals the proxy relies on, pinned: this file fails first when an SDK update changes them.

The SDK (``mcp``, pinned exactly in pyproject.toml) has no public hook for these, so the proxy uses them
directly:
- ``MCPServer._tool_input_schema(name)``: the SDK hands it to the low-level server as
  ``get_tool_input_schema`` (Streamable HTTP checks ``Mcp-Param-*`` headers with it).
  :class:`~mcp_proxy.order_tools.TradingAwareServer` overrides it to register its deferred tools first.
- ``MCPServer._tool_manager.get_tool(name)``: ``ProxyServer.call_tool`` answers an unknown tool with -32602.
- ``MCPServer._lowlevel_server``: stdio serving, 2025-11-25 subscriptions and the paginated resources list.
- ``mcp.shared._context_streams.create_context_streams``: the streams mcp_proxy.stdio hands that server.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version
from typing import Any

from mcp.server import MCPServer
from mcp.server.lowlevel.server import Server

from mcp_proxy.order_tools import TradingAwareServer
from mcp_proxy.server import DaemonLink, build_server


def _pinned_mcp() -> str:
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())
    pins = [d for d in pyproject["project"]["dependencies"] if d.startswith("mcp==")]
    assert pins, "pyproject.toml must pin mcp exactly (mcp==X.Y.Z): the proxy uses SDK internals"
    return str(pins[0]).removeprefix("mcp==")


def test_the_installed_sdk_is_the_pinned_one() -> None:
    assert version("mcp") == _pinned_mcp()


def test_tool_input_schema_keeps_its_signature() -> None:
    signature = inspect.signature(MCPServer._tool_input_schema)
    assert list(signature.parameters) == ["self", "name"]
    assert signature.parameters["name"].annotation in (str, "str")
    assert signature.return_annotation in (dict[str, Any] | None, "dict[str, Any] | None")
    # Overridden with the same shape.
    assert list(inspect.signature(TradingAwareServer._tool_input_schema).parameters) == ["self", "name"]


def test_the_low_level_server_looks_input_schemas_up_through_the_override() -> None:
    server = build_server(DaemonLink("/nonexistent/etrade-daemon.sock"))
    lowlevel = server._lowlevel_server
    assert isinstance(lowlevel, Server)
    lookup = lowlevel.get_tool_input_schema
    assert lookup is not None
    assert getattr(lookup, "__func__", None) is TradingAwareServer._tool_input_schema
    # Tools are registered on first need: the lookup itself must register them.
    schema = lookup("get_stock_quote")
    assert schema is not None and "symbol" in schema["properties"]
    assert lookup("no_such_tool") is None


def test_the_tool_manager_finds_registered_tools_by_name() -> None:
    server = build_server(DaemonLink("/nonexistent/etrade-daemon.sock"))
    assert server._lowlevel_server.get_tool_input_schema is not None
    server._lowlevel_server.get_tool_input_schema("list_accounts")  # registers the deferred tools
    assert server._tool_manager.get_tool("list_accounts") is not None
    assert server._tool_manager.get_tool("no_such_tool") is None


def test_the_context_streams_the_stdio_transport_builds_on() -> None:
    """mcp_proxy.stdio hands the low-level server the SDK's context streams, as the SDK's transports do."""
    import anyio
    from mcp.shared._context_streams import ContextReceiveStream, ContextSendStream, create_context_streams

    send, receive = create_context_streams[int](1)
    assert isinstance(send, ContextSendStream) and isinstance(receive, ContextReceiveStream)

    async def round_trip() -> int:
        async with send, receive:
            await send.send(7)
            item = await receive.receive()
            assert receive.last_context is not None  # the dispatcher runs each request in it
            return item

    assert anyio.run(round_trip) == 7
