"""Property-based: whatever a model sends through etrade-mcp, only typed errors come back.

A real emulator, daemon and proxy (over stdio); Hypothesis picks the arguments of the tools,
resources and prompts the model reaches. Every answer must be a result, a tool error ending in one
of the daemon's error codes (never INTERNAL), the SDK's argument validation, or a -32602 protocol
error; and neither process may log a traceback. The sample is small: each example is a round trip.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker_client.errors import ErrorCode
from tests.processes import System, login_with_etradectl, running_system
from tests.stdio_proxy import StdioProxy, tool_text
from tests.support import short_tmp_dir

pytestmark = [pytest.mark.e2e]

ROUND_TRIPS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
CODE = re.compile(r"\[([A-Z_]+)\]\s*$")
# What the SDK says when pydantic refuses a tool's arguments (before our code runs).
ARGUMENT_VALIDATION = re.compile(r"validation error", re.IGNORECASE)


class Live:
    def __init__(self, system: System, proxy: StdioProxy, account: str) -> None:
        self.system = system
        self.proxy = proxy
        self.account = account


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    # Trading on (emulator only; nothing is placed without a human's code): previews get validated.
    with short_tmp_dir() as home, running_system(home, env_extra={"ETRADE_READ_ONLY": "false"}) as system:
        login_with_etradectl(system.env, system.socket)
        with StdioProxy(system.env, ["--socket", str(system.socket)]) as proxy:
            proxy.initialize()
            accounts = proxy.call_tool("list_accounts", {})
            account = accounts["result"]["structuredContent"]["accounts"][0]["account_id_key"]
            yield Live(system, proxy, account)
            assert "Traceback" not in proxy.stderr_text
        assert "Traceback" not in system.daemon.stderr_text


def assert_typed(answer: dict[str, Any]) -> None:
    if "error" in answer:
        assert answer["error"]["code"] == -32602, answer
        return
    result = answer["result"]
    if not result.get("isError"):
        return
    text = tool_text(answer)
    match = CODE.search(text)
    if match is None:
        assert ARGUMENT_VALIDATION.search(text), text
        return
    assert ErrorCode(match.group(1)) is not ErrorCode.INTERNAL, text


# Each strategy mixes plausible values (which reach the daemon) with anything at all (which the
# SDK's argument validation may stop first).
anything = st.text(max_size=30)
symbols = st.sampled_from(["AAPL", "msft", " BRK.B ", "ZZZZZ", "AAPL:2027:1:15:CALL:200"]) | st.from_regex(
    r"\A[A-Za-z0-9.:\- ]{0,12}\Z"
)
dates = st.dates().map(str) | st.from_regex(r"\A\d{4}-\d{2}-\d{2}\Z") | anything
order_ids = st.integers(min_value=1, max_value=10**6) | st.integers(min_value=-(2**70), max_value=2**70)


@ROUND_TRIPS
@given(symbol=symbols)
def test_quote_symbols(live: Live, symbol: str) -> None:
    assert_typed(live.proxy.call_tool("get_stock_quote", {"symbol": symbol}))


@ROUND_TRIPS
@given(symbols=st.lists(symbols, max_size=55))
def test_multiple_quote_symbols(live: Live, symbols: list[str]) -> None:
    assert_typed(live.proxy.call_tool("get_multiple_quotes", {"symbols": symbols}))


@ROUND_TRIPS
@given(key=anything, symbol=symbols)
def test_account_keys(live: Live, key: str, symbol: str) -> None:
    assert_typed(live.proxy.call_tool("get_account_balance", {"account_id_key": key}))
    assert_typed(live.proxy.call_tool("get_position_details", {"account_id_key": key, "symbol": symbol}))


@ROUND_TRIPS
@given(start=dates, end=dates)
def test_transaction_dates(live: Live, start: str, end: str) -> None:
    args = {"account_id_key": live.account, "start_date": start, "end_date": end}
    assert_typed(live.proxy.call_tool("get_transactions", args))


@ROUND_TRIPS
@given(order_id=order_ids, start=dates)
def test_order_ids_and_dates(live: Live, order_id: int, start: str) -> None:
    assert_typed(live.proxy.call_tool("get_order_details", {"account_id_key": live.account, "order_id": order_id}))
    assert_typed(live.proxy.call_tool("list_orders", {"account_id_key": live.account, "from_date": start}))


@ROUND_TRIPS
@given(
    quantity=st.integers(min_value=1, max_value=5000) | order_ids,
    price=st.decimals(min_value=0, max_value=2000, places=2).map(str) | st.from_regex(r"\A-?\d{0,7}(\.\d{0,5})?\Z"),
    price_type=st.sampled_from(["MARKET", "LIMIT", "STOP", "STOP_LIMIT"]),
    symbol=symbols,
    prices=st.sampled_from([(), ("limit_price",), ("stop_price",), ("limit_price", "stop_price")]),
)
def test_order_previews(
    live: Live, quantity: int, price: str, price_type: str, symbol: str, prices: tuple[str, ...]
) -> None:
    args: dict[str, Any] = {
        "account_id_key": live.account,
        "symbol": symbol,
        "order_action": "BUY",
        "quantity": quantity,
        "price_type": price_type,
        **dict.fromkeys(prices, price),
    }
    assert_typed(live.proxy.call_tool("preview_order", args))


@ROUND_TRIPS
@given(
    uri=st.sampled_from(
        ["account://{}/summary", "portfolio://{}/positions", "market://watchlist/{}", "orders://{}/recent"]
    ).flatmap(lambda template: anything.map(template.format))
    | anything
)
def test_resource_uris(live: Live, uri: str) -> None:
    assert_typed(live.proxy.request("resources/read", {"uri": uri}))


@ROUND_TRIPS
@given(
    name=st.sampled_from(["portfolio_analysis", "market_summary", "trade_idea_analysis", "rebalancing"]) | anything,
    arguments=st.dictionaries(
        st.sampled_from(["account_id_key", "symbols", "symbol", "strategy", "target", "watchlist"]) | anything,
        anything,
        max_size=3,
    ),
)
def test_prompt_arguments(live: Live, name: str, arguments: dict[str, str]) -> None:
    assert_typed(live.proxy.request("prompts/get", {"name": name, "arguments": arguments}))
