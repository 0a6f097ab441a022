"""Option expirations, chains and quotes through the daemon's gRPC API against the emulator."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from broker_client.client import BrokerClient
from broker_client.errors import ErrorCode, InvalidRequest, SessionError, UpstreamError
from daemon.gateway.retry import RetryPolicy
from protos.broker.v1 import options_pb2
from tests.harness.daemons import RunningDaemon
from tests.harness.support import requests_to

pytestmark = pytest.mark.anyio


@pytest.fixture
def frozen(daemon: RunningDaemon) -> RunningDaemon:
    """The emulator clock standing still, so a chain and a quote see the same instant."""
    daemon.emulator.clock.freeze()
    return daemon


async def test_expirations_are_sorted_typed_and_cached(broker: BrokerClient, daemon: RunningDaemon) -> None:
    before = requests_to(daemon.emulator, "option_expire_dates")
    found = await broker.get_option_expirations("aapl")
    assert found.symbol == "AAPL"
    dates = [date.fromisoformat(e.date) for e in found.expirations]
    assert dates == sorted(dates) and len(dates) >= 10
    assert {e.expiry_type for e in found.expirations} == {"WEEKLY", "MONTHLY"}
    assert all(0 <= e.days_to_expiration <= 800 for e in found.expirations)
    assert all(d.weekday() == 4 for d in dates)
    again = await broker.get_option_expirations("AAPL")
    assert again == found
    assert requests_to(daemon.emulator, "option_expire_dates") - before == 1  # the second came from the cache
    weekly = await broker.get_option_expirations("AAPL", expiry_type="weekly")
    assert {e.expiry_type for e in weekly.expirations} == {"WEEKLY"}


async def test_a_chain_is_bounded_sorted_and_briefly_cached(broker: BrokerClient, frozen: RunningDaemon) -> None:
    before = requests_to(frozen.emulator, "option_chains")
    chain = await broker.get_option_chain("MSFT")
    assert chain.symbol == "MSFT" and chain.expiration
    strikes = [row.strike for row in chain.rows]
    assert len(strikes) == 10 and strikes == sorted(strikes)
    assert all(row.HasField("call") and row.HasField("put") for row in chain.rows)
    call = chain.rows[4].call
    assert call.option_type == "CALL" and call.expiration == chain.expiration
    assert call.symbol.startswith("MSFT:") and call.osi_key.startswith("MSFT--")
    assert 0 < call.delta < 1 and call.gamma > 0 and call.implied_volatility > 0
    assert call.bid <= call.last <= call.ask
    assert chain.fetched_at_unix_ms > 0
    assert await broker.get_option_chain("MSFT") == chain
    assert requests_to(frozen.emulator, "option_chains") - before == 1
    await broker.get_option_chain("MSFT", strike_count=4)
    assert requests_to(frozen.emulator, "option_chains") - before == 2  # other parameters, another request


async def test_chain_parameters_reach_e_trade(broker: BrokerClient, frozen: RunningDaemon) -> None:
    expirations = (await broker.get_option_expirations("IBM")).expirations
    monthly = next(e.date for e in expirations if e.expiry_type == "MONTHLY" and e.days_to_expiration > 30)
    puts = await broker.get_option_chain(
        "IBM", expiration=monthly, strike_near=250, strike_count=3, side=options_pb2.OPTION_SIDE_PUTS
    )
    assert puts.expiration == monthly
    assert [row.HasField("call") for row in puts.rows] == [False] * 3
    assert all(row.put.option_type == "PUT" for row in puts.rows)
    assert min(abs(row.strike - 250) for row in puts.rows) <= 5
    weekly = next(e for e in expirations if e.expiry_type == "WEEKLY")
    nearest = await broker.get_option_chain("IBM", include_weeklies=True, strike_count=1)
    assert nearest.expiration == min(weekly.date, next(e.date for e in expirations if e.expiry_type == "MONTHLY"))


async def test_a_contract_from_the_chain_quotes_by_either_name(broker: BrokerClient, frozen: RunningDaemon) -> None:
    chain = await broker.get_option_chain("AAPL", strike_count=1)
    call = chain.rows[0].call
    quoted = await broker.get_option_quote(call.symbol)
    assert quoted.underlying == "AAPL"
    assert quoted.contract.osi_key == call.osi_key
    assert (quoted.contract.last, quoted.contract.bid, quoted.contract.ask) == (call.last, call.bid, call.ask)
    assert quoted.contract.delta == call.delta and quoted.days_to_expiration >= 0
    by_osi = await broker.get_option_quote(call.osi_key.replace("-", ""))
    assert by_osi.contract.symbol == call.symbol and by_osi.contract.last == call.last


@pytest.mark.parametrize(
    ("symbol", "message", "hint"),
    [
        ("VFIAX", "VFIAX has no listed options", "not for mutual funds"),
        ("ZZZZQ", "E*TRADE does not know the symbol ZZZZQ", "lookup_symbol"),
    ],
)
async def test_underlyings_without_options_say_what_to_do(
    broker: BrokerClient, symbol: str, message: str, hint: str
) -> None:
    for call in (broker.get_option_chain(symbol), broker.get_option_expirations(symbol)):
        with pytest.raises(InvalidRequest) as caught:
            await call
        assert caught.value.message == message and hint in caught.value.hint


async def test_bad_chain_arguments_are_refused_before_e_trade(broker: BrokerClient, daemon: RunningDaemon) -> None:
    before = requests_to(daemon.emulator, "option_chains")
    for kwargs, words in (
        ({"expiration": "2026-13-01"}, "YYYY-MM-DD"),
        ({"strike_count": 51}, "1-50 strikes"),
        ({"strike_near": -5.0}, "a price such as 200"),
    ):
        with pytest.raises(InvalidRequest) as caught:
            await broker.get_option_chain("AAPL", **kwargs)
        assert caught.value.code is ErrorCode.INVALID_ARGUMENT and words in caught.value.hint
    assert requests_to(daemon.emulator, "option_chains") == before


async def test_an_expiration_that_is_not_listed_points_at_the_list(broker: BrokerClient, frozen: RunningDaemon) -> None:
    listed = {e.date for e in (await broker.get_option_expirations("AAPL")).expirations}
    day = date.fromisoformat(min(listed)) + timedelta(days=1)  # a Saturday
    with pytest.raises(InvalidRequest) as caught:
        await broker.get_option_chain("AAPL", expiration=day.isoformat())
    assert "no AAPL options expire" in caught.value.message
    assert "get_option_expirations" in caught.value.hint


@pytest.mark.parametrize("symbol", ["AAPL", "AAPL:2026:2:30:CALL:200", "not an option"])
async def test_malformed_option_symbols_explain_the_forms(broker: BrokerClient, symbol: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await broker.get_option_quote(symbol)
    assert caught.value.code is ErrorCode.INVALID_SYMBOL
    assert "AAPL:2026:6:19:CALL:200" in caught.value.hint and "OSI" in caught.value.hint


async def test_an_unlisted_contract_is_an_invalid_symbol(broker: BrokerClient) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await broker.get_option_quote("AAPL:2031:1:17:CALL:200")
    assert caught.value.message == "E*TRADE lists no option contract AAPL:2031:1:17:CALL:200.000000"
    assert "get_option_chain" in caught.value.hint


async def test_option_reads_need_a_session(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        for call in (
            client.get_option_chain("AAPL"),
            client.get_option_expirations("AAPL"),
            client.get_option_quote("AAPL:2026:6:19:CALL:200"),
        ):
            with pytest.raises(SessionError) as caught:
                await call
            assert caught.value.code is ErrorCode.NOT_LOGGED_IN


async def test_an_emulator_500_on_chains_is_retried_then_a_clear_upstream_error(
    broker: BrokerClient, daemon: RunningDaemon
) -> None:
    daemon.app.gateway.policy = RetryPolicy(retries=1, base_delay=0.001)
    daemon.emulator.faults.add({"match": "option_chains", "status": 500})
    before = requests_to(daemon.emulator, "option_chains")
    with pytest.raises(UpstreamError) as caught:
        await broker.get_option_chain("AAPL")
    assert caught.value.code is ErrorCode.UPSTREAM_ERROR
    assert requests_to(daemon.emulator, "option_chains") - before == 2  # through the gateway's retries
    daemon.emulator.faults.clear()


async def test_an_option_symbol_given_as_a_stock_quote_points_at_the_option_quote(broker: BrokerClient) -> None:
    response = await broker.get_quotes(["AAPL", "AAPL:2026:6:19:CALL:200", "AAPL260619P00200000"])
    assert [q.symbol for q in response.quotes] == ["AAPL"]
    assert [e.code for e in response.errors] == ["INVALID_SYMBOL", "INVALID_SYMBOL"]
    assert all("get_option_quote" in e.message for e in response.errors)
