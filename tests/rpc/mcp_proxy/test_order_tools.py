"""The order tools through the SDK's in-process client (both protocol eras) against a real trading daemon."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from emulator import Emulator
from mcp_proxy.order_tools import ORDER_CHANGING
from mcp_proxy.server import DaemonLink, build_server
from tests.harness.support import requests_to
from tests.harness.trading import Trader, last_price, trading_daemon

pytestmark = pytest.mark.anyio

ERAS = pytest.mark.parametrize("mode", ["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
ORDER_TOOLS = {"list_orders", "get_order_details", "get_recent_fills", *ORDER_CHANGING}


def text_of(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


async def connect(trader: Trader, mode: str) -> tuple[Client, DaemonLink]:
    link = DaemonLink(trader.daemon.socket)
    return Client(build_server(link), mode=mode), link


@ERAS
async def test_a_trading_daemon_offers_the_order_tools_with_honest_annotations(trader: Trader, mode: str) -> None:
    client, link = await connect(trader, mode)
    async with client as mcp:
        listing = await mcp.list_tools()
    await link.close()
    tools = {tool.name: tool for tool in listing.tools}
    assert set(tools) >= ORDER_TOOLS
    for name in ("place_order_confirmed", "cancel_order", "cancel_order_confirmed"):
        annotations = tools[name].annotations
        assert annotations is not None and annotations.destructive_hint is True and annotations.read_only_hint is False
    preview = tools["preview_order"].annotations
    assert preview is not None and preview.destructive_hint is False and preview.read_only_hint is False
    for name in ("list_orders", "get_order_details"):
        annotations = tools[name].annotations
        assert annotations is not None and annotations.read_only_hint is True
    schema = tools["preview_order"].input_schema["properties"]
    assert schema["order_action"]["enum"] == ["BUY", "SELL", "BUY_TO_COVER", "SELL_SHORT"]
    assert "confirmation_code" not in json.dumps(tools["preview_order"].output_schema)  # no field for a code
    if mode == "auto":  # 2026-07-28: clients must not keep a stale list
        assert listing.ttl_ms == 0 and listing.cache_scope == "private"


@ERAS
async def test_a_read_only_daemon_hides_them_and_refuses_them_by_name(
    session_emu: Emulator, short_dir: Path, mode: str
) -> None:
    async with trading_daemon(session_emu, short_dir, read_only=True) as trader:
        client, link = await connect(trader, mode)
        async with client as mcp:
            names = {tool.name for tool in (await mcp.list_tools()).tools}
            assert not names & ORDER_CHANGING
            assert {"list_orders", "get_order_details"} <= names
            result = await mcp.call_tool(
                "preview_order",
                {
                    "account_id_key": trader.account_key(),
                    "symbol": "KO",
                    "order_action": "BUY",
                    "quantity": 1,
                    "price_type": "MARKET",
                },
            )
        await link.close()
    assert result.is_error
    assert "READ_ONLY" in text_of(result) and "ETRADE_READ_ONLY" in text_of(result)
    assert requests_to(session_emu, "order_preview") == 0


async def test_a_daemon_that_cannot_be_reached_gets_no_order_tools(short_dir: Path) -> None:
    link = DaemonLink(short_dir / "absent.sock")
    async with Client(build_server(link)) as mcp:
        names = {tool.name for tool in (await mcp.list_tools()).tools}
    await link.close()
    assert not names & ORDER_CHANGING


@ERAS
async def test_preview_then_the_humans_code_places_one_order(trader: Trader, mode: str) -> None:
    price = last_price(trader.emulator, "KO")
    client, link = await connect(trader, mode)
    async with client as mcp:
        preview = await mcp.call_tool(
            "preview_order",
            {
                "account_id_key": trader.account_key(),
                "symbol": "ko",
                "order_action": "BUY",
                "quantity": 3,
                "price_type": "LIMIT",
                "limit_price": round(price + 0.5, 2),
            },
        )
        assert not preview.is_error, text_of(preview)
        pending = preview.structured_content
        assert pending is not None
        code = await trader.code_of(pending["pending_id"])
        assert code not in json.dumps(pending) and code not in text_of(preview)
        assert code.replace("-", "") not in json.dumps(pending)
        assert pending["order"]["limit_price"] == f"{round(price + 0.5, 2):.2f}".rstrip("0").rstrip(".")
        assert pending["preview"]["estimated_commission"] == "0"
        assert pending["preview"]["estimated_total_amount"]
        assert "etradectl orders pending" in pending["confirm_instructions"]
        assert requests_to(trader.emulator, "order_place") == 0

        wrong = await mcp.call_tool(
            "place_order_confirmed", {"pending_id": pending["pending_id"], "confirmation_code": "AAAA-AAAA"}
        )
        assert wrong.is_error and "CONFIRMATION_INVALID" in text_of(wrong)
        placed = await mcp.call_tool(
            "place_order_confirmed", {"pending_id": pending["pending_id"], "confirmation_code": code}
        )
        assert not placed.is_error, text_of(placed)
        assert placed.structured_content is not None
        order_id = placed.structured_content["order_id"]
        again = await mcp.call_tool(
            "place_order_confirmed", {"pending_id": pending["pending_id"], "confirmation_code": code}
        )
        assert again.is_error and "CONFIRMATION_USED" in text_of(again)

        listed = await mcp.call_tool("list_orders", {"account_id_key": trader.account_key()})
        assert [o["order_id"] for o in listed.structured_content["orders"]] == [order_id]
        details = await mcp.call_tool(
            "get_order_details", {"account_id_key": trader.account_key(), "order_id": order_id}
        )
        assert details.structured_content is not None and details.structured_content["symbol"] == "KO"
    await link.close()
    assert [o.order_id for o in trader.orders_at_emulator()] == [order_id]


@ERAS
async def test_cancel_through_the_tools(trader: Trader, mode: str) -> None:
    far = round(last_price(trader.emulator, "KO") * 0.6, 2)
    client, link = await connect(trader, mode)
    key = trader.account_key()
    async with client as mcp:
        preview = await mcp.call_tool(
            "preview_order",
            {
                "account_id_key": key,
                "symbol": "KO",
                "order_action": "BUY",
                "quantity": 1,
                "price_type": "LIMIT",
                "limit_price": far,
            },
        )
        pending_id = preview.structured_content["pending_id"]
        placed = await mcp.call_tool(
            "place_order_confirmed", {"pending_id": pending_id, "confirmation_code": await trader.code_of(pending_id)}
        )
        order_id = placed.structured_content["order_id"]
        cancel = await mcp.call_tool("cancel_order", {"account_id_key": key, "order_id": order_id})
        assert not cancel.is_error, text_of(cancel)
        cancel_id = cancel.structured_content["pending_id"]
        assert cancel.structured_content["cancel_target"]["order_id"] == order_id
        assert requests_to(trader.emulator, "order_cancel") == 0
        done = await mcp.call_tool(
            "cancel_order_confirmed", {"pending_id": cancel_id, "confirmation_code": await trader.code_of(cancel_id)}
        )
        assert not done.is_error, text_of(done)
        assert done.structured_content["messages"][0]["code"] == 4186
    await link.close()
    assert trader.orders_at_emulator()[0].status.value == "CANCEL_REQUESTED"


async def test_bad_order_arguments_are_clear_tool_errors(trader: Trader) -> None:
    client, link = await connect(trader, "auto")
    base = {"account_id_key": trader.account_key(), "symbol": "KO", "order_action": "BUY", "quantity": 1}
    async with client as mcp:
        no_limit = await mcp.call_tool("preview_order", {**base, "price_type": "LIMIT"})
        negative = await mcp.call_tool("preview_order", {**base, "price_type": "LIMIT", "limit_price": -1})
        far = await mcp.call_tool("preview_order", {**base, "price_type": "LIMIT", "limit_price": "1.00"})
    await link.close()
    assert no_limit.is_error and "limit_price" in text_of(no_limit)
    assert negative.is_error and "limit_price" in text_of(negative)
    assert far.is_error and "PRICE_OUT_OF_BAND" in text_of(far)
    assert requests_to(trader.emulator, "order_preview") == 0


@ERAS
async def test_a_preview_past_the_cap_is_a_tool_error_naming_the_humans_next_step(
    session_emu: Emulator, short_dir: Path, mode: str
) -> None:
    async with trading_daemon(session_emu, short_dir, max_pending_orders=1) as trader:
        client, link = await connect(trader, mode)
        order = {
            "account_id_key": trader.account_key(),
            "symbol": "KO",
            "order_action": "BUY",
            "quantity": 1,
            "price_type": "MARKET",
        }
        async with client as mcp:
            first = await mcp.call_tool("preview_order", order)
            second = await mcp.call_tool("preview_order", {**order, "symbol": "PEP"})
        await link.close()
    assert not first.is_error, text_of(first)
    assert second.is_error
    text = text_of(second)
    assert "[TOO_MANY_PENDING]" in text and "1 order already waits" in text
    next_step = text.split("Next step:", 1)[1]
    assert "etradectl orders pending" in next_step and "etradectl orders reject ID" in next_step
    assert "expire" in next_step
    assert requests_to(session_emu, "order_preview") == 1


@ERAS
async def test_twenty_concurrent_place_order_confirmed_calls_place_one_order(trader: Trader, mode: str) -> None:
    import anyio

    client, link = await connect(trader, mode)
    async with client as mcp:
        preview = await mcp.call_tool(
            "preview_order",
            {
                "account_id_key": trader.account_key(),
                "symbol": "KO",
                "order_action": "BUY",
                "quantity": 1,
                "price_type": "MARKET",
            },
        )
        pending_id = preview.structured_content["pending_id"]
        code = await trader.code_of(pending_id)
        results: list[Any] = []

        async def confirm() -> None:
            results.append(
                await mcp.call_tool("place_order_confirmed", {"pending_id": pending_id, "confirmation_code": code})
            )

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(confirm)
    await link.close()
    placed = [r for r in results if not r.is_error]
    assert len(results) == 20 and len(placed) == 1
    assert all("CONFIRMATION_USED" in text_of(r) for r in results if r.is_error)
    assert requests_to(trader.emulator, "order_place") == 1
    assert [o.order_id for o in trader.orders_at_emulator()] == [placed[0].structured_content["order_id"]]


@ERAS
async def test_the_recent_orders_resource(trader: Trader, mode: str) -> None:
    key = trader.account_key()
    client, link = await connect(trader, mode)
    async with client as mcp:
        preview = await mcp.call_tool(
            "preview_order",
            {"account_id_key": key, "symbol": "KO", "order_action": "BUY", "quantity": 1, "price_type": "MARKET"},
        )
        pending_id = preview.structured_content["pending_id"]
        placed = await mcp.call_tool(
            "place_order_confirmed", {"pending_id": pending_id, "confirmation_code": await trader.code_of(pending_id)}
        )
        templates = {t.uri_template for t in (await mcp.list_resource_templates()).resource_templates}
        assert "orders://{account_id_key}/recent" in templates
        read = await mcp.read_resource(f"orders://{key}/recent")
    await link.close()
    document = json.loads(read.contents[0].text)  # type: ignore[union-attr]
    assert [o["order_id"] for o in document["orders"]] == [placed.structured_content["order_id"]]


async def test_every_tool_call_a_prompt_spells_out_uses_the_tools_real_argument_names(trader: Trader) -> None:
    import re

    client, link = await connect(trader, "auto")
    async with client as mcp:
        tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
        key = trader.account_key()
        samples = {
            "portfolio_analysis": {"account_id_key": key},
            "market_summary": {"symbols": "AAPL MSFT"},
            "trade_idea_analysis": {"symbol": "NVDA", "strategy": "momentum"},
            "tax_loss_harvesting": {"account_id_key": key},
            "rebalancing": {"account_id_key": key, "target": "60/40"},
            "order_review": {"pending_id": "p-123"},
        }
        texts = {}
        for name, arguments in samples.items():
            result = await mcp.get_prompt(name, arguments)
            texts[name] = "\n".join(m.content.text for m in result.messages)  # type: ignore[union-attr]
    await link.close()
    calls = [
        (prompt, tool, re.findall(r"(\w+)=", arguments))
        for prompt, text in texts.items()
        for tool, arguments in re.findall(r"\b(\w+)\(([^()]*)\)", text)
        if tool in tools
    ]
    assert {tool for _, tool, _ in calls} >= {"analyze_portfolio", "get_multiple_quotes", "place_order_confirmed"}
    for prompt, tool, names in calls:
        unknown = set(names) - set(tools[tool].input_schema["properties"])
        assert not unknown, f"prompt {prompt} calls {tool} with unknown arguments {unknown}"
