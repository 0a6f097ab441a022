"""Property-based tests of the functions that judge what a model (or a client) sends.

Whatever the input, only the typed errors of daemon/errors.py may come out: no other exception,
and never INTERNAL. Hypothesis generates the inputs, including the ones nobody thought of.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker_client.errors import BrokerError, ErrorCode
from broker_client.symbols import normalize_symbol, normalize_symbols
from daemon.accounts.accounts import check_account_key
from daemon.accounts.watchlists import check_name
from daemon.market.options import parse_option_symbol
from daemon.orders.pending import normalize_code
from daemon.orders.validation import OrderInput, parse_order, parse_price
from mcp_proxy.stdio import screen

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text that looks like what a model sends, plus anything at all.
symbolish = st.from_regex(r"\A[A-Za-z0-9 .:/\-]{0,14}\Z") | st.text(max_size=40)
numberish = st.from_regex(r"\A-?\d{0,8}(\.\d{0,6})?\Z") | st.text(max_size=20) | st.just("1e9") | st.just("NaN")


def assert_typed(exc: BrokerError) -> None:
    assert exc.code is not ErrorCode.INTERNAL
    assert exc.message


@FAST
@given(symbolish)
def test_a_symbol_is_normalized_or_refused_with_a_typed_error(raw: str) -> None:
    try:
        symbol = normalize_symbol(raw)
    except BrokerError as exc:
        assert_typed(exc)
        return
    assert symbol == symbol.strip().upper() and symbol


@FAST
@given(st.lists(symbolish, max_size=60))
def test_a_symbol_list_gives_symbols_and_per_symbol_errors(raw: list[str]) -> None:
    try:
        symbols, errors = normalize_symbols(raw, limit=50)
    except BrokerError as exc:
        assert_typed(exc)
        return
    assert len(symbols) + len(errors) <= len(raw)
    assert all(ErrorCode(error.code) is not ErrorCode.INTERNAL for error in errors)


@FAST
@given(st.text(max_size=80))
def test_an_account_key_is_accepted_or_refused_with_a_typed_error(raw: str) -> None:
    try:
        key = check_account_key(raw)
    except BrokerError as exc:
        assert_typed(exc)
        return
    assert key == key.strip() and key


@FAST
@given(st.text(max_size=80))
def test_a_watchlist_name_is_accepted_or_refused_with_a_typed_error(raw: str) -> None:
    try:
        check_name(raw)
    except BrokerError as exc:
        assert_typed(exc)


@FAST
@given(numberish)
def test_a_price_is_exact_and_bounded_or_refused_with_a_typed_error(raw: str) -> None:
    try:
        price = parse_price(raw, "limit_price")
    except BrokerError as exc:
        assert_typed(exc)
        return
    assert price is None or Decimal(0) < price <= Decimal(1_000_000)


@FAST
@given(symbolish | st.from_regex(r"\A[A-Z]{1,5}:\d{4}:\d{1,2}:\d{1,2}:(CALL|PUT):\d{1,5}(\.\d{0,3})?\Z"))
def test_an_option_symbol_is_parsed_or_refused_with_a_typed_error(raw: str) -> None:
    try:
        parse_option_symbol(raw)
    except BrokerError as exc:
        assert_typed(exc)


@FAST
@given(st.text(max_size=40))
def test_a_confirmation_code_is_normalized_without_crashing(raw: str) -> None:
    try:
        assert isinstance(normalize_code(raw), str)
    except BrokerError as exc:
        assert_typed(exc)


@FAST
@given(
    st.builds(
        OrderInput,
        account_id_key=st.text(max_size=30),
        symbol=symbolish,
        action=st.sampled_from(["BUY", "SELL", "BUY_TO_COVER", "SELL_SHORT", "buy", "", "HOLD"]) | st.text(max_size=12),
        quantity=st.integers(min_value=-(2**70), max_value=2**70),
        price_type=st.sampled_from(["MARKET", "LIMIT", "STOP", "STOP_LIMIT", "limit", ""]) | st.text(max_size=12),
        limit_price=numberish,
        stop_price=numberish,
        order_term=st.sampled_from(["", "GOOD_FOR_DAY", "FILL_OR_KILL"]) | st.text(max_size=12),
        market_session=st.sampled_from(["", "REGULAR", "EXTENDED"]) | st.text(max_size=12),
        all_or_none=st.booleans(),
    )
)
def test_an_order_is_parsed_or_refused_with_a_typed_error(raw: OrderInput) -> None:
    try:
        order = parse_order(raw, max_quantity=10_000)
    except BrokerError as exc:
        assert_typed(exc)
        return
    assert 1 <= order.quantity <= 10_000


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0"]) | json_values,
        "id": st.integers() | st.text(max_size=8) | json_values,
        "method": st.sampled_from(["ping", "tools/list", "tools/call", "notifications/initialized"]) | json_values,
        "params": st.dictionaries(st.text(max_size=8), json_values, max_size=3) | json_values,
        "result": json_values,
        "error": json_values,
    },
)


@FAST
@given(st.binary(max_size=80) | messages.map(lambda m: json.dumps(m).encode()))
def test_every_stdin_line_is_passed_on_answered_or_logged(raw: bytes) -> None:
    verdict = screen(raw)
    outcomes = [verdict.message is not None, verdict.answer is not None, verdict.ignored is not None]
    assert sum(outcomes) <= 1
    if verdict.answer is not None:
        assert verdict.answer.error.code in (-32700, -32600, -32602)
        assert verdict.answer.id is None or isinstance(verdict.answer.id, str | int)
    if verdict.message is not None:
        from mcp.types import jsonrpc_message_adapter

        # What is passed on is what the SDK's own parsing of the line would have made of it.
        assert verdict.message == jsonrpc_message_adapter.validate_json(raw, by_name=False)


@pytest.mark.parametrize("depth", [10, 900, 5_000, 100_000])
@pytest.mark.parametrize("has_id", [True, False], ids=["request", "notification"])
def test_a_line_nested_deeper_than_the_parser_goes_gets_a_verdict(depth: int, has_id: bool) -> None:
    head = b'{"jsonrpc":"2.0",' + (b'"id":3,' if has_id else b"") + b'"method":"tools/call","params":{"a":'
    verdict = screen(head + b"[" * depth + b"]" * depth + b"}}")
    outcomes = [verdict.message is not None, verdict.answer is not None, verdict.ignored is not None]
    assert sum(outcomes) == 1
    if verdict.answer is not None:
        assert verdict.answer.error.code in (-32700, -32600)
