"""Quotes through the daemon's gRPC API against the emulator."""

from __future__ import annotations

import pytest

from broker_client.client import BrokerClient
from broker_client.errors import ErrorCode, InvalidRequest, UpstreamError
from daemon.gateway.retry import RetryPolicy
from tests.harness.daemons import RunningDaemon
from tests.harness.support import requests_to

pytestmark = pytest.mark.anyio


def universe_symbols(n: int) -> list[str]:
    from emulator import universe

    symbols = universe.tradable_symbols()
    assert len(symbols) >= n
    return symbols[:n]


async def test_a_quote_has_realistic_fields(broker: BrokerClient) -> None:
    response = await broker.get_quotes(["AAPL"])
    (quote,) = response.quotes
    assert quote.symbol == "AAPL"
    assert quote.company_name
    assert quote.last_trade > 0
    assert 0 < quote.bid < quote.ask
    assert quote.bid_size > 0 and quote.ask_size > 0
    assert quote.low_52_week <= quote.high_52_week
    assert quote.quote_time_unix > 0
    assert quote.fetched_at_unix_ms > 0
    assert not response.errors


async def test_lowercase_and_padded_symbols_are_normalised(broker: BrokerClient) -> None:
    response = await broker.get_quotes([" msft ", "aapl"])
    assert [q.symbol for q in response.quotes] == ["MSFT", "AAPL"]


async def test_garbage_and_unknown_symbols_fail_alone(broker: BrokerClient, daemon: RunningDaemon) -> None:
    response = await broker.get_quotes(["AAPL", "$$$", "ZZZZQ", "X" * 300, "MSFT"])
    assert [q.symbol for q in response.quotes] == ["AAPL", "MSFT"]
    failed = {e.symbol[:5]: e.code for e in response.errors}
    assert failed == {"$$$": "INVALID_SYMBOL", "ZZZZQ": "INVALID_SYMBOL", "XXXXX": "INVALID_SYMBOL"}


async def test_only_unknown_symbols_are_reported_not_raised(broker: BrokerClient) -> None:
    response = await broker.get_quotes(["ZZZZQ"])
    assert not response.quotes
    assert [e.code for e in response.errors] == ["INVALID_SYMBOL"]


async def test_26_to_50_symbols_are_answered_completely(broker: BrokerClient, daemon: RunningDaemon) -> None:
    symbols = universe_symbols(50)
    response = await broker.get_quotes(symbols)
    assert [q.symbol for q in response.quotes] == symbols
    assert not response.errors


@pytest.mark.parametrize(("count", "code"), [(0, ErrorCode.NO_SYMBOLS), (51, ErrorCode.TOO_MANY_SYMBOLS)])
async def test_zero_or_more_than_50_symbols_are_refused(broker: BrokerClient, count: int, code: ErrorCode) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await broker.get_quotes(["AAPL"] * count)
    assert caught.value.code is code


async def test_an_emulator_500_becomes_a_clear_upstream_error(broker: BrokerClient, daemon: RunningDaemon) -> None:
    daemon.app.gateway.policy = RetryPolicy(retries=2, base_delay=0.001)
    daemon.emulator.faults.add({"match": "quote", "status": 500})  # until cleared
    before = requests_to(daemon.emulator, "quote")
    with pytest.raises(UpstreamError) as caught:
        await broker.get_quotes(["AAPL"])
    assert caught.value.code is ErrorCode.UPSTREAM_ERROR
    assert "E*TRADE error 100" in caught.value.message
    assert "after 3 attempts" in caught.value.message
    assert requests_to(daemon.emulator, "quote") - before == 3  # the first attempt and two retries
    daemon.emulator.faults.clear()
    # The failure was not cached: the next call works again.
    assert (await broker.get_quotes(["AAPL"])).quotes


async def test_symbol_lookup_finds_companies(broker: BrokerClient) -> None:
    response = await broker.lookup_product("apple")
    assert "AAPL" in [p.symbol for p in response.products]


async def test_a_request_over_the_message_limit_is_a_clear_error_not_a_bug(broker: BrokerClient) -> None:
    from broker_client.errors import ErrorCode, InvalidRequest

    with pytest.raises(InvalidRequest) as too_big:
        await broker.get_quotes(["A" * 5_000_000])
    assert too_big.value.code is ErrorCode.INVALID_ARGUMENT
    assert "message limit" in too_big.value.message and "ask for less" in too_big.value.message
    assert (await broker.get_quotes(["AAPL"])).quotes  # the connection is still good
