"""The option and symbol-lookup tools, driven by the SDK's in-process client against a real daemon
and the emulator; and their output models kept equal to the daemon's messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from google.protobuf.message import Message
from mcp import Client
from pydantic import BaseModel

from broker_client.client import BrokerClient
from mcp_proxy import option_models
from mcp_proxy.option_tools import MAX_CHAIN_STRIKES
from mcp_proxy.server import DaemonLink, build_server
from protos.broker.v1 import market_pb2, options_pb2
from tests.conftest import RunningDaemon

OPTION_TOOLS = {"lookup_symbol", "get_option_expirations", "get_option_chain", "get_option_quote"}

PAIRS: list[tuple[type[BaseModel], type[Message]]] = [
    (option_models.OptionExpiration, options_pb2.OptionExpiration),
    (option_models.OptionExpirations, options_pb2.GetOptionExpirationsResponse),
    (option_models.OptionContract, options_pb2.OptionContract),
    (option_models.OptionChainRow, options_pb2.OptionChainRow),
    (option_models.OptionChain, options_pb2.GetOptionChainResponse),
    (option_models.OptionQuote, options_pb2.GetOptionQuoteResponse),
    (option_models.LookupMatch, market_pb2.Product),
]


@pytest.mark.parametrize(("model", "message"), PAIRS, ids=[m.__name__ for m, _ in PAIRS])
def test_model_fields_equal_the_message_fields(model: type[BaseModel], message: type[Message]) -> None:
    assert set(model.model_fields) == {f.name for f in message.DESCRIPTOR.fields}
    for field in message.DESCRIPTOR.fields:
        if field.has_presence and not field.is_repeated:
            assert not model.model_fields[field.name].is_required(), field.name


@pytest.fixture(params=["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
async def mcp(request: pytest.FixtureRequest, daemon: RunningDaemon, broker: BrokerClient) -> AsyncIterator[Client]:
    daemon.emulator.clock.freeze()  # a chain and a quote of its contract see the same instant
    link = DaemonLink(daemon.socket)
    async with Client(build_server(link), mode=request.param) as client:
        yield client
    await link.close()


def text_of(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


@pytest.mark.anyio
async def test_option_tools_are_read_only_with_output_schemas(mcp: Client) -> None:
    tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    assert set(tools) >= OPTION_TOOLS
    for name in OPTION_TOOLS:
        tool = tools[name]
        assert tool.annotations is not None and tool.annotations.read_only_hint is True
        assert tool.annotations.destructive_hint is False and tool.output_schema is not None
        assert tool.description and len(tool.description) > 60
    count = tools["get_option_chain"].input_schema["properties"]["strike_count"]
    assert (count["minimum"], count["maximum"]) == (1, MAX_CHAIN_STRIKES)


@pytest.mark.anyio
async def test_lookup_symbol_finds_a_ticker_from_a_name(mcp: Client) -> None:
    result = await mcp.call_tool("lookup_symbol", {"company": "apple"})
    assert not result.is_error
    assert result.structured_content == {
        "products": [{"symbol": "AAPL", "description": "APPLE INC COM", "type": "EQUITY"}],
        "more_matches": 0,
    }
    nothing = await mcp.call_tool("lookup_symbol", {"company": "zzzqqq"})
    assert nothing.structured_content == {"products": [], "more_matches": 0}


@pytest.mark.anyio
async def test_from_expirations_to_a_chain_to_a_contract_quote(mcp: Client) -> None:
    expirations = await mcp.call_tool("get_option_expirations", {"symbol": "aapl", "expiry_type": "MONTHLY"})
    assert not expirations.is_error
    dates = [e["date"] for e in expirations.structured_content["expirations"]]
    assert dates and all(date.fromisoformat(d).weekday() == 4 for d in dates)
    chosen = dates[1]
    chain = await mcp.call_tool(
        "get_option_chain", {"symbol": "AAPL", "expiration": chosen, "strike_count": 4, "side": "calls"}
    )
    assert not chain.is_error, text_of(chain)
    content = chain.structured_content
    assert content["expiration"] == chosen and len(content["rows"]) == 4
    assert all(row["put"] is None and row["call"]["option_type"] == "CALL" for row in content["rows"])
    call = content["rows"][0]["call"]
    quote = await mcp.call_tool("get_option_quote", {"option_symbol": call["symbol"]})
    assert not quote.is_error, text_of(quote)
    assert quote.structured_content["underlying"] == "AAPL"
    assert quote.structured_content["contract"]["last"] == call["last"]
    assert quote.structured_content["contract"]["delta"] == call["delta"]


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("get_option_chain", {"symbol": "VFIAX"}, "VFIAX has no listed options"),
        ("get_option_chain", {"symbol": "AAPL", "strike_count": MAX_CHAIN_STRIKES + 1}, "less than or equal"),
        ("get_option_chain", {"symbol": "AAPL", "expiration": "2026-02-30"}, "YYYY-MM-DD"),
        ("get_option_chain", {"symbol": "AAPL", "expiration": "2020-01-17"}, "get_option_expirations"),
        ("get_option_expirations", {"symbol": "ZZZZQ"}, "INVALID_SYMBOL"),
        ("get_option_quote", {"option_symbol": "AAPL:2031:1:17:CALL:200"}, "get_option_chain"),
        ("get_option_quote", {"option_symbol": "hello world"}, "AAPL260619C00200000"),
        ("lookup_symbol", {"company": ""}, "company"),
    ],
)
@pytest.mark.anyio
async def test_bad_option_input_is_a_tool_error_with_the_next_step(
    mcp: Client, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    result = await mcp.call_tool(tool, arguments)
    assert result.is_error
    assert expected in text_of(result)
