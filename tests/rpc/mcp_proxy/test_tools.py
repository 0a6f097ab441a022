"""The MCP tools, driven by the SDK's in-process client against a real daemon and the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from broker_client.client import BrokerClient
from daemon.gateway.retry import RetryPolicy
from mcp_proxy.server import DaemonLink, build_server
from tests.harness.daemons import RunningDaemon

pytestmark = pytest.mark.anyio

TOOLS = {
    "get_stock_quote",
    "get_multiple_quotes",
    "list_accounts",
    "get_account_balance",
    "get_portfolio",
    "get_position_details",
    "analyze_portfolio",
    "list_watchlists",
    "lookup_symbol",
    "get_option_expirations",
    "get_option_chain",
    "get_option_quote",
    "get_transactions",
    "get_transaction_details",
    "list_alerts",
    "get_alert_details",
    # Order reading is offered in read-only mode too (the daemon's default); see test_order_tools.py.
    "list_orders",
    "get_recent_fills",
    "get_order_details",
}


@pytest.fixture(params=["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
async def mcp(request: pytest.FixtureRequest, daemon: RunningDaemon, broker: BrokerClient) -> AsyncIterator[Client]:
    """An MCP client (both protocol eras) of the proxy, whose daemon is logged in to the emulator."""
    link = DaemonLink(daemon.socket)
    async with Client(build_server(link), mode=request.param) as client:
        yield client
    await link.close()


def text_of(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


async def test_tools_are_listed_read_only_with_schemas(mcp: Client) -> None:
    tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and len(tool.description) > 40
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is True
        assert tool.annotations.destructive_hint is False
        assert tool.output_schema is not None
    symbols = tools["get_multiple_quotes"].input_schema["properties"]["symbols"]
    assert (symbols["minItems"], symbols["maxItems"]) == (1, 50)


async def test_get_stock_quote_returns_structured_content(mcp: Client) -> None:
    result = await mcp.call_tool("get_stock_quote", {"symbol": "aapl"})
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["symbol"] == "AAPL"
    assert result.structured_content["last_trade"] > 0


async def test_more_than_25_symbols_are_answered_completely(mcp: Client) -> None:
    from emulator import universe

    symbols = [*universe.tradable_symbols()[:40], "NOPEQ"]
    result = await mcp.call_tool("get_multiple_quotes", {"symbols": symbols})
    assert not result.is_error
    content = result.structured_content
    assert content is not None
    assert [q["symbol"] for q in content["quotes"]] == symbols[:40]
    assert [e["symbol"] for e in content["errors"]] == ["NOPEQ"]


async def test_account_tools_chain_from_list_accounts(mcp: Client) -> None:
    accounts = (await mcp.call_tool("list_accounts", {})).structured_content
    assert accounts is not None
    key = accounts["accounts"][0]["account_id_key"]
    balance = await mcp.call_tool("get_account_balance", {"account_id_key": key})
    assert not balance.is_error and balance.structured_content["total_account_value"] > 0
    portfolio = await mcp.call_tool("get_portfolio", {"account_id_key": key})
    positions = portfolio.structured_content["positions"]
    assert positions
    details = await mcp.call_tool("get_position_details", {"account_id_key": key, "symbol": positions[0]["symbol"]})
    assert not details.is_error
    assert details.structured_content["lots"]


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("get_stock_quote", {"symbol": ""}, "symbol"),
        ("get_stock_quote", {"symbol": "$$$"}, "INVALID_SYMBOL"),
        ("get_stock_quote", {"symbol": "ZZZZQ"}, "INVALID_SYMBOL"),
        ("get_stock_quote", {"symbol": "X" * 300}, "symbol"),
        ("get_multiple_quotes", {"symbols": []}, "symbols"),
        ("get_multiple_quotes", {"symbols": ["AAPL"] * 51}, "symbols"),
        ("get_account_balance", {"account_id_key": "nosuchaccountkey12345"}, "UNKNOWN_ACCOUNT"),
        ("get_portfolio", {"account_id_key": "../../x"}, "UNKNOWN_ACCOUNT"),
        ("get_position_details", {"account_id_key": "nosuchaccountkey12345", "symbol": "AAPL"}, "UNKNOWN_ACCOUNT"),
        ("get_order_details", {"account_id_key": "nosuchaccountkey12345", "order_id": 2**63}, "less than or equal"),
    ],
)
async def test_bad_input_is_a_clear_tool_error(
    mcp: Client, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    result = await mcp.call_tool(tool, arguments)
    assert result.is_error
    assert expected in text_of(result)


async def test_an_upstream_500_is_a_tool_error_that_says_to_retry(mcp: Client, daemon: RunningDaemon) -> None:
    daemon.app.gateway.policy = RetryPolicy(retries=1, base_delay=0.001)
    daemon.emulator.faults.add({"match": "quote", "status": 500, "count": 2})  # outlasts the daemon's retry
    result = await mcp.call_tool("get_stock_quote", {"symbol": "AAPL"})
    assert result.is_error
    assert "UPSTREAM_ERROR" in text_of(result)
    assert "try again" in text_of(result)


async def test_an_account_number_in_etrade_error_text_reaches_the_model_masked(
    mcp: Client, daemon: RunningDaemon
) -> None:
    accounts = (await mcp.call_tool("list_accounts", {})).structured_content
    assert accounts is not None
    account = accounts["accounts"][0]
    emulator_account = daemon.emulator.book.account(account["account_id_key"])
    assert emulator_account is not None
    number = emulator_account.account_id
    daemon.emulator.faults.add(
        {"match": "balance", "status": 400, "code": 9999, "message": f"Account {number} is restricted"}
    )
    result = await mcp.call_tool("get_account_balance", {"account_id_key": account["account_id_key"]})
    assert result.is_error
    assert f"Account ****{number[-4:]} is restricted" in text_of(result)
    assert number not in text_of(result)
    assert account["account_number_masked"] == f"****{number[-4:]}"  # the form the model already knows


async def test_not_logged_in_names_the_login_command(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        await client.logout()
    link = DaemonLink(daemon.socket)
    async with Client(build_server(link)) as mcp:
        result = await mcp.call_tool("list_accounts", {})
    await link.close()
    assert result.is_error
    assert "etradectl auth login" in text_of(result)


async def test_daemon_down_names_the_command_that_starts_it(short_dir: Path) -> None:
    link = DaemonLink(short_dir / "absent.sock")
    async with Client(build_server(link)) as mcp:
        result = await mcp.call_tool("get_stock_quote", {"symbol": "AAPL"})
    await link.close()
    assert result.is_error
    assert "not running" in text_of(result)
    assert "etrade-daemon" in text_of(result)
