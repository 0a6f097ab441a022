"""Resources, prompts, completions and the analytics and watchlist tools, in both protocol eras,
through the SDK's in-process client against a real daemon and the emulator."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import PromptReference, ResourceTemplateReference

from broker_client.client import BrokerClient
from mcp_proxy.prompts import DISCLAIMER
from mcp_proxy.server import DaemonLink, build_server
from tests.conftest import RunningDaemon

pytestmark = pytest.mark.anyio

TEMPLATES = {
    "account://{account_id_key}/summary",
    "portfolio://{account_id_key}/positions",
    "market://watchlist/{name}",
    "orders://{account_id_key}/recent",  # mcp_proxy/order_resources.py
}
PROMPTS = {
    "portfolio_analysis": {"account_id_key"},
    "market_summary": {"symbols"},
    "trade_idea_analysis": {"symbol", "strategy"},
    "tax_loss_harvesting": {"account_id_key"},
    "rebalancing": {"account_id_key", "target"},
    "order_review": {"pending_id"},
}


@pytest.fixture(params=["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
async def mcp(request: pytest.FixtureRequest, daemon: RunningDaemon, broker: BrokerClient) -> AsyncIterator[Client]:
    await broker.add_to_watchlist("tech", ["AAPL", "MSFT", "NVDA"])
    await broker.add_to_watchlist("income", ["SCHD", "O"])
    link = DaemonLink(daemon.socket)
    async with Client(build_server(link), mode=request.param) as client:
        yield client
    await link.close()


async def account_keys(broker: BrokerClient) -> list[str]:
    return [a.account_id_key for a in (await broker.list_accounts()).accounts]


def text_of(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


async def read_json(mcp: Client, uri: str) -> Any:
    result = await mcp.read_resource(uri)
    (content,) = result.contents
    assert content.mime_type == "application/json"
    assert str(content.uri) == uri
    return json.loads(content.text)  # type: ignore[union-attr]


async def test_resources_and_templates_are_listed_with_descriptions(mcp: Client) -> None:
    resources = [r for r in (await mcp.list_resources()).resources if str(r.uri).startswith("market://")]
    # The static list, then each configured watchlist as a resource of its own.
    assert [str(r.uri) for r in resources] == [
        "market://watchlists",
        "market://watchlist/tech",
        "market://watchlist/income",
    ]
    assert "AAPL, MSFT, NVDA" in (resources[1].description or "")
    templates = {t.uri_template: t for t in (await mcp.list_resource_templates()).resource_templates}
    assert set(templates) == TEMPLATES
    for item in [*resources, *templates.values()]:
        assert getattr(item, "mime_type", None) == "application/json"
        assert len(getattr(item, "description", "") or "") > 40
        assert item.title


async def test_each_resource_reads_as_json_with_emulator_data(mcp: Client, broker: BrokerClient) -> None:
    key = (await account_keys(broker))[0]
    balance = (await broker.get_balance(key)).balance
    portfolio = await broker.get_portfolio(key)

    summary = await read_json(mcp, f"account://{key}/summary")
    assert summary["account_id_key"] == key
    assert summary["position_count"] == len(portfolio.positions) > 0
    assert summary["cash_balance"] == pytest.approx(balance.cash_balance)
    assert summary["margin_buying_power"] == pytest.approx(balance.margin_buying_power)
    assert summary["total_account_value"] > 0
    assert summary["positions_uri"] == f"portfolio://{key}/positions"

    positions = await read_json(mcp, f"portfolio://{key}/positions")
    assert [p["symbol"] for p in positions["positions"]] == [p.symbol for p in portfolio.positions]
    first = positions["positions"][0]
    for field in ("total_cost", "market_value", "total_gain", "days_gain", "cost_per_share"):
        assert field in first
    assert positions["totals"]["total_market_value"] > 0

    watchlists = await read_json(mcp, "market://watchlists")
    assert [(w["name"], w["symbols"]) for w in watchlists["watchlists"]] == [
        ("tech", ["AAPL", "MSFT", "NVDA"]),
        ("income", ["SCHD", "O"]),
    ]

    tech = await read_json(mcp, "market://watchlist/tech")
    assert tech["name"] == "tech"
    assert [q["symbol"] for q in tech["quotes"]] == ["AAPL", "MSFT", "NVDA"]
    assert all(q["last_trade"] > 0 for q in tech["quotes"])
    assert tech["errors"] == []


async def test_reading_an_unknown_account_or_watchlist_is_a_not_found_error_with_the_fix(mcp: Client) -> None:
    with pytest.raises(MCPError) as unknown_account:
        await mcp.read_resource("account://nosuchaccountkey12345/summary")
    assert unknown_account.value.error.code == -32602  # "resource not found" in both eras
    assert "UNKNOWN_ACCOUNT" in unknown_account.value.error.message
    assert "list_accounts" in unknown_account.value.error.message
    with pytest.raises(MCPError) as unknown_watchlist:
        await mcp.read_resource("market://watchlist/nope")
    assert "WATCHLIST_NOT_FOUND" in unknown_watchlist.value.error.message
    assert "tech, income" in unknown_watchlist.value.error.message
    with pytest.raises(MCPError) as bad_name:
        await mcp.read_resource("market://watchlist/%24%24%24")
    assert bad_name.value.error.code == -32602  # the caller's mistake, not an internal error
    assert "INVALID_WATCHLIST" in bad_name.value.error.message


async def test_completions_offer_account_keys_and_watchlist_names(mcp: Client, broker: BrokerClient) -> None:
    keys = await account_keys(broker)

    async def complete(ref: PromptReference | ResourceTemplateReference, name: str, value: str) -> list[str]:
        return (await mcp.complete(ref, {"name": name, "value": value})).completion.values

    summary = ResourceTemplateReference(uri="account://{account_id_key}/summary")
    assert await complete(summary, "account_id_key", "") == keys
    assert await complete(summary, "account_id_key", keys[1][:3].lower()) == [
        k for k in keys if k.lower().startswith(keys[1][:3].lower())
    ]
    positions = ResourceTemplateReference(uri="portfolio://{account_id_key}/positions")
    assert await complete(positions, "account_id_key", "") == keys
    watchlist = ResourceTemplateReference(uri="market://watchlist/{name}")
    assert await complete(watchlist, "name", "") == ["tech", "income"]
    assert await complete(watchlist, "name", "IN") == ["income"]

    for prompt in ("portfolio_analysis", "tax_loss_harvesting", "rebalancing"):
        assert await complete(PromptReference(name=prompt), "account_id_key", "") == keys
    assert await complete(PromptReference(name="market_summary"), "symbols", "w") == [
        "watchlist:tech",
        "watchlist:income",
    ]
    assert await complete(PromptReference(name="market_summary"), "symbols", "watchlist:t") == ["watchlist:tech"]
    assert await complete(PromptReference(name="trade_idea_analysis"), "symbol", "") == [
        "AAPL",
        "MSFT",
        "NVDA",
        "SCHD",
        "O",
    ]
    assert "momentum" in await complete(PromptReference(name="trade_idea_analysis"), "strategy", "mo")
    assert "60/40 stocks/bonds" in await complete(PromptReference(name="rebalancing"), "target", "60")
    assert await complete(PromptReference(name="portfolio_analysis"), "no_such_argument", "") == []


async def test_without_a_daemon_completion_is_empty_and_reads_say_how_to_start_it(short_dir: Any) -> None:
    link = DaemonLink(short_dir / "absent.sock")
    async with Client(build_server(link)) as mcp:
        result = await mcp.complete(
            ResourceTemplateReference(uri="market://watchlist/{name}"), {"name": "name", "value": ""}
        )
        with pytest.raises(MCPError) as caught:
            await mcp.read_resource("market://watchlists")
    await link.close()
    assert result.completion.values == []
    assert "not running" in caught.value.error.message
    assert "etrade-daemon" in caught.value.error.message


async def test_prompts_are_listed_with_their_arguments(mcp: Client) -> None:
    prompts = {p.name: p for p in (await mcp.list_prompts()).prompts}
    assert set(prompts) == set(PROMPTS)
    for name, arguments in PROMPTS.items():
        prompt = prompts[name]
        assert prompt.title and prompt.description
        assert {a.name for a in prompt.arguments or []} == arguments
        assert all(a.required and a.description for a in prompt.arguments or [])


async def prompt_text(mcp: Client, name: str, arguments: dict[str, str]) -> str:
    result = await mcp.get_prompt(name, arguments)
    assert result.messages and all(m.role == "user" for m in result.messages)
    return "\n".join(m.content.text for m in result.messages)  # type: ignore[union-attr]


async def test_each_prompt_names_its_tools_and_checks(mcp: Client, broker: BrokerClient) -> None:
    key = (await account_keys(broker))[0]

    analysis = await prompt_text(mcp, "portfolio_analysis", {"account_id_key": key})
    assert f'analyze_portfolio(account_id_key="{key}")' in analysis
    assert "get_account_balance" in analysis and "Herfindahl" in analysis
    assert "not from E*TRADE" in analysis  # sectors are labelled honestly

    summary = await prompt_text(mcp, "market_summary", {"symbols": "aapl, msft spy"})
    assert 'get_multiple_quotes(symbols=["AAPL", "MSFT", "SPY"])' in summary
    from_watchlist = await prompt_text(mcp, "market_summary", {"symbols": "watchlist:TECH"})
    assert 'get_multiple_quotes(symbols=["AAPL", "MSFT", "NVDA"])' in from_watchlist
    assert "my watchlist tech" in from_watchlist

    idea = await prompt_text(mcp, "trade_idea_analysis", {"symbol": "nvda", "strategy": "momentum"})
    assert 'get_stock_quote(symbol="NVDA")' in idea and "momentum" in idea
    assert DISCLAIMER in idea
    for line in ("Trading involves risk of loss", "not financial advice", "Consult financial advisors"):
        assert line in idea

    harvest = await prompt_text(mcp, "tax_loss_harvesting", {"account_id_key": key})
    assert "get_position_details" in harvest and "30 days" in harvest and "$3,000" in harvest

    rebalance = await prompt_text(mcp, "rebalancing", {"account_id_key": key, "target": "60/40 stocks/bonds"})
    assert "60/40 stocks/bonds" in rebalance and "proposal only" in rebalance and DISCLAIMER in rebalance

    review = await prompt_text(mcp, "order_review", {"pending_id": "p-123"})
    for tool in ("get_stock_quote", "get_account_balance", "list_orders", "get_order_details", "place_order_confirmed"):
        assert tool in review
    assert "etradectl orders confirm p-123" in review
    assert "Never guess, reuse or invent a code" in review

    for text in (analysis, summary, harvest):
        assert "Do not preview, place or cancel any order" in text


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("portfolio_analysis", {"account_id_key": "../etc"}, "not an account_id_key"),
        ("market_summary", {"symbols": "AAPL $$$"}, "not a ticker symbol"),
        ("market_summary", {"symbols": " , "}, "no symbols"),
        ("market_summary", {"symbols": "watchlist:nope"}, "there is no watchlist 'nope'"),
        ("trade_idea_analysis", {"symbol": "AAPL MSFT", "strategy": "value"}, "give one symbol"),
        ("trade_idea_analysis", {"symbol": "AAPL", "strategy": "x" * 300}, "longer than"),
        ("rebalancing", {"account_id_key": "abc", "target": "   "}, "target is empty"),
        ("order_review", {"pending_id": "no spaces allowed"}, "not a pending_id"),
    ],
)
async def test_bad_prompt_arguments_are_refused_with_the_reason(
    mcp: Client, name: str, arguments: dict[str, str], expected: str
) -> None:
    with pytest.raises(MCPError) as caught:
        await mcp.get_prompt(name, arguments)
    assert expected in caught.value.error.message


async def test_analyze_portfolio_is_read_only_with_an_output_schema_and_reports_progress(
    mcp: Client, broker: BrokerClient
) -> None:
    tool = next(t for t in (await mcp.list_tools()).tools if t.name == "analyze_portfolio")
    assert tool.annotations is not None and tool.annotations.read_only_hint is True
    assert tool.output_schema is not None and "herfindahl_index" in tool.output_schema["properties"]
    assert "not e*trade data" in (tool.description or "").lower()

    key = (await account_keys(broker))[0]
    steps: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        steps.append((progress, total, message))

    result = await mcp.call_tool("analyze_portfolio", {"account_id_key": key}, progress_callback=on_progress)
    assert not result.is_error, text_of(result)
    analysis = result.structured_content
    assert analysis is not None
    assert analysis["account_id_key"] == key
    assert analysis["holdings"] and 0 < analysis["herfindahl_index"] <= 1
    assert "E*TRADE does not report sectors" in analysis["sector_source"]
    assert [done for done, _, _ in steps] == [1, 2, 3, 4]
    done, total, message = steps[-1]
    assert (done, total, message) == (4.0, 4.0, "computed the analysis")
    assert {message for _, _, message in steps} >= {
        "fetched the balance",
        "fetched portfolio page 1 of 1",
        "fetched the transactions",
    }

    quiet = await mcp.call_tool("analyze_portfolio", {"account_id_key": key})  # no progress asked for: still fine
    assert not quiet.is_error

    unknown = await mcp.call_tool("analyze_portfolio", {"account_id_key": "nosuchaccountkey12345"})
    assert unknown.is_error and "UNKNOWN_ACCOUNT" in text_of(unknown)


async def test_list_watchlists_tool(mcp: Client) -> None:
    result = await mcp.call_tool("list_watchlists", {})
    assert not result.is_error
    assert result.structured_content is not None
    assert [w["name"] for w in result.structured_content["watchlists"]] == ["tech", "income"]
