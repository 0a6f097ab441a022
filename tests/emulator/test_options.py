"""Market API options: expiry dates, option chains, option quotes; and the quote fixes that
follow E*TRADE's documented or captured values (after-hours change, fund fields, ex-dates)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from rauth import OAuth1Session

from emulator import Emulator, universe
from emulator.option_pricing import black_scholes, expiries, third_friday
from emulator.quotes import ex_dividend_date
from tests.emulator.conftest import get, login

# The emulator's clock in these tests: Tuesday 2026-03-10 11:00 EDT (conftest T0).
NEXT_MONTHLY = date(2026, 3, 20)
NEXT_WEEKLY = date(2026, 3, 13)


def error(response: Any) -> tuple[int, int, str]:
    body = response.json()["Error"]
    return response.status_code, body["code"], body["message"]


def chain(session: OAuth1Session, emu: Emulator, **params: Any) -> Any:
    return get(session, emu, "/v1/market/optionchains.json", **params)


def expire_dates(session: OAuth1Session, emu: Emulator, **params: Any) -> Any:
    return get(session, emu, "/v1/market/optionexpiredate.json", **params)


def test_expire_dates_list_weeklies_and_third_friday_monthlies(emu: Emulator, session: OAuth1Session) -> None:
    response = expire_dates(session, emu, symbol="GOOG", expiryType="ALL")
    assert response.status_code == 200
    dates = response.json()["OptionExpireDateResponse"]["ExpirationDate"]
    days = [date(d["year"], d["month"], d["day"]) for d in dates]
    assert days == sorted(days) and days[0] == NEXT_WEEKLY
    assert all(d.weekday() == 4 for d in days)
    monthly = [date(d["year"], d["month"], d["day"]) for d in dates if d["expiryType"] == "MONTHLY"]
    weekly = [date(d["year"], d["month"], d["day"]) for d in dates if d["expiryType"] == "WEEKLY"]
    assert monthly[0] == NEXT_MONTHLY and all(d == third_friday(d.year, d.month) for d in monthly)
    assert len(weekly) == 6 and not set(weekly) & set(monthly)
    assert date(2028, 1, 21) in monthly  # January LEAPS two years out
    only_weekly = expire_dates(session, emu, symbol="GOOG", expiryType="WEEKLY").json()
    assert {d["expiryType"] for d in only_weekly["OptionExpireDateResponse"]["ExpirationDate"]} == {"WEEKLY"}
    xml = ET.fromstring(get(session, emu, "/v1/market/optionexpiredate", symbol="GOOG").content)
    assert xml.tag == "OptionExpireDateResponse" and xml.findtext("ExpirationDate/expiryType") == "WEEKLY"


def test_expiry_of_the_day_lasts_until_the_close() -> None:
    friday_morning = datetime(2026, 3, 13, 14, 0, tzinfo=UTC)  # 10:00 EDT
    friday_evening = datetime(2026, 3, 13, 20, 30, tzinfo=UTC)  # 16:30 EDT
    assert expiries(friday_morning)[0].day == NEXT_WEEKLY
    assert expiries(friday_evening)[0].day == NEXT_MONTHLY


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, (400, 10043, "Missing symbol. Please enter valid symbol.")),
        ({"symbol": "ZZZZ"}, (400, 10033, "The Symbol entered is invalid. Please enter another symbol.")),
        ({"symbol": "VFIAX"}, (400, 10032, "No options are available for this symbol.")),
        (
            {"symbol": "AAPL", "expiryType": "VIX"},
            (400, 10044, "There are no options available for the given symbol or expiration date."),
        ),
    ],
)
def test_expire_date_errors(
    emu: Emulator, session: OAuth1Session, params: dict[str, str], expected: tuple[int, int, str]
) -> None:
    assert error(expire_dates(session, emu, **params)) == expected


def test_chain_follows_the_documented_example_shape(emu: Emulator, session: OAuth1Session) -> None:
    # E*TRADE's example: ?symbol=IBM&expiryYear=2018&expiryMonth=08&strikePriceNear=200&noOfStrikes=2
    response = chain(
        session, emu, symbol="IBM", expiryYear="2026", expiryMonth="04", strikePriceNear="300", noOfStrikes="2"
    )
    assert response.status_code == 200
    body = response.json()["OptionChainResponse"]
    assert body["SelectedED"] == {"day": 17, "month": 4, "year": 2026}
    assert body["nearPrice"] == 300.0 and body["quoteType"] == "REALTIME"
    assert body["timeStamp"] == int(emu.clock.now().timestamp())
    pairs = body["OptionPair"]
    assert [p["Call"]["strikePrice"] for p in pairs] == [300.0, 305.0]
    call, put = pairs[0]["Call"], pairs[0]["Put"]
    assert call["displaySymbol"] == "IBM Apr 17 '26 $300 Call" and put["displaySymbol"] == "IBM Apr 17 '26 $300 Put"
    assert call["osiKey"] == "IBM---260417C00300000" and put["osiKey"] == "IBM---260417P00300000"
    assert call["quoteDetail"] == f"{emu.base_url}/v1/market/quote/IBM:2026:4:17:CALL:300.000000.json"
    assert (call["symbol"], call["optionRootSymbol"], call["optionType"], call["optionCategory"]) == (
        "IBM",
        "IBM",
        "CALL",
        "STANDARD",
    )
    assert call["adjustedFlag"] is False and pairs[0]["pairType"] == "CALLPUT"
    assert {call["inTheMoney"], put["inTheMoney"]} == {"y", "n"}
    for option in (call, put):
        assert 0 <= option["bid"] < option["ask"]
        assert option["bidSize"] >= 0 and option["askSize"] > 0 and option["openInterest"] > 0
        greeks = option["OptionGreeks"]
        assert greeks["gamma"] > 0 and greeks["vega"] > 0 and greeks["theta"] < 0
        assert 0.05 <= greeks["iv"] <= 3 and greeks["currentValue"] is True
    assert 0 < call["OptionGreeks"]["delta"] < 1 and -1 < put["OptionGreeks"]["delta"] < 0
    assert call["OptionGreeks"]["delta"] - put["OptionGreeks"]["delta"] == pytest.approx(1, abs=0.02)
    xml = ET.fromstring(get(session, emu, "/v1/market/optionchains", symbol="IBM", noOfStrikes="1").content)
    assert xml.tag == "OptionChainResponse" and xml.findtext("OptionPair/Call/OptionGreeks/delta") is not None


def test_chain_prices_are_black_scholes_of_the_underlying(emu: Emulator, session: OAuth1Session) -> None:
    spot = get(session, emu, "/v1/market/quote/MSFT.json").json()["QuoteResponse"]["QuoteData"][0]["All"]["lastTrade"]
    [pair] = chain(session, emu, symbol="MSFT", noOfStrikes="1").json()["OptionChainResponse"]["OptionPair"]
    call, put = pair["Call"], pair["Put"]
    strike = call["strikePrice"]
    years = (datetime(2026, 3, 20, 20, 0, tzinfo=UTC) - emu.clock.now()).total_seconds() / (365 * 86400)
    carry = universe.UNIVERSE["MSFT"].annual_dividend / spot
    expected = black_scholes(True, spot, strike, years, call["OptionGreeks"]["iv"], 0.04, carry)
    assert call["lastPrice"] == pytest.approx(expected.value, abs=0.006)
    assert call["OptionGreeks"]["delta"] == pytest.approx(expected.delta, abs=0.0001)
    assert call["bid"] <= call["lastPrice"] <= call["ask"] and put["bid"] <= put["lastPrice"] <= put["ask"]


def test_chain_moves_with_the_underlying_on_the_emulator_clock(emu: Emulator, session: OAuth1Session) -> None:
    def snapshot() -> tuple[float, float, float]:
        spot = get(session, emu, "/v1/market/quote/TSLA.json").json()["QuoteResponse"]["QuoteData"][0]["All"]
        [pair] = chain(session, emu, symbol="TSLA", strikePriceNear="420", noOfStrikes="1").json()[
            "OptionChainResponse"
        ]["OptionPair"]
        return spot["lastTrade"], pair["Call"]["lastPrice"], pair["Put"]["lastPrice"]

    first = snapshot()
    assert snapshot() == first  # same instant, same answer
    emu.clock.advance(timedelta(minutes=90))  # within the 2-hour idle limit
    second = snapshot()
    assert second[0] != first[0]
    up = second[0] > first[0]
    assert (second[1] > first[1]) == up and (second[2] < first[2]) == up


def test_chain_parameters(emu: Emulator, session: OAuth1Session) -> None:
    default = chain(session, emu, symbol="AAPL").json()["OptionChainResponse"]
    assert default["SelectedED"] == {"day": 20, "month": 3, "year": 2026}  # nearest monthly
    assert len(default["OptionPair"]) == 10  # priceType ATNM: the strikes around the money
    weekly = chain(session, emu, symbol="AAPL", includeWeekly="true").json()["OptionChainResponse"]
    assert weekly["SelectedED"] == {"day": 13, "month": 3, "year": 2026}
    exact = chain(session, emu, symbol="AAPL", expiryYear="2026", expiryMonth="3", expiryDay="27").json()
    assert exact["OptionChainResponse"]["SelectedED"]["day"] == 27
    everything = chain(session, emu, symbol="AAPL", priceType="ALL").json()["OptionChainResponse"]["OptionPair"]
    strikes = [p["Call"]["strikePrice"] for p in everything]
    assert len(strikes) > 30 and strikes == sorted(strikes) and strikes[1] - strikes[0] == 5.0
    calls = chain(session, emu, symbol="AAPL", chainType="CALL", noOfStrikes="3").json()["OptionChainResponse"]
    assert [sorted(p) for p in calls["OptionPair"]] == [["Call", "pairType"]] * 3
    assert {p["pairType"] for p in calls["OptionPair"]} == {"CALLONLY"}
    puts = chain(session, emu, symbol="AAPL", chainType="PUT", noOfStrikes="2").json()["OptionChainResponse"]
    assert {p["pairType"] for p in puts["OptionPair"]} == {"PUTONLY"} and "Call" not in puts["OptionPair"][0]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"chainType": "BOTH"}, (400, 10042, "Please provide a valid option type.")),
        ({"optionCategory": "MINI"}, (400, 10038, "Mini options not available for this symbol.")),
        ({"expiryYear": "2026", "expiryMonth": "13"}, (400, 10039, "Please provide valid expiration date.")),
        ({"expiryMonth": "4"}, (400, 10039, "Please provide valid expiration date.")),
        ({"expiryYear": "2026", "expiryMonth": "12"}, (400, 10031, "There are no options for the given month.")),
        (
            {"expiryYear": "2026", "expiryMonth": "3", "expiryDay": "18"},
            (400, 10044, "There are no options available for the given symbol or expiration date."),
        ),
        ({"symbol": "VFIAX"}, (400, 10032, "No options are available for this symbol.")),
        ({"symbol": ""}, (400, 10043, "Missing symbol. Please enter valid symbol.")),
        ({"noOfStrikes": "0"}, (400, 9001, "Invalid value for parameter noOfStrikes.")),
        ({"includeWeekly": "maybe"}, (400, 9001, "Invalid value for parameter includeWeekly.")),
    ],
)
def test_chain_errors(
    emu: Emulator, session: OAuth1Session, params: dict[str, str], expected: tuple[int, int, str]
) -> None:
    assert error(chain(session, emu, **{"symbol": "AAPL", **params})) == expected


def test_option_quote_by_the_symbol_in_quote_detail(emu: Emulator, session: OAuth1Session) -> None:
    [pair] = chain(session, emu, symbol="AAPL", noOfStrikes="1").json()["OptionChainResponse"]["OptionPair"]
    call = pair["Call"]
    response = session.get(call["quoteDetail"], params={}, header_auth=True, timeout=10)
    assert response.status_code == 200, response.text
    [data] = response.json()["QuoteResponse"]["QuoteData"]
    strike = call["strikePrice"]
    assert data["Product"] == {
        "symbol": "AAPL",
        "securityType": "OPTN",
        "callPut": "CALL",
        "expiryYear": 2026,
        "expiryMonth": 3,
        "expiryDay": 20,
        "strikePrice": strike,
    }
    q = data["All"]
    assert (q["lastTrade"], q["bid"], q["ask"], q["openInterest"]) == (
        call["lastPrice"],
        call["bid"],
        call["ask"],
        call["openInterest"],
    )
    assert q["daysToExpiration"] == 10 and q["optionUnderlier"] == "AAPL" and q["optionMultiplier"] == 100
    assert q["osiKey"] == call["osiKey"] and q["OptionGreeks"] == call["OptionGreeks"]
    # The short form with C/P and zero-padded dates names the same contract.
    short = f"AAPL:2026:03:20:C:{strike:g}"
    option = get(session, emu, f"/v1/market/quote/{short}.json", detailFlag="OPTIONS").json()
    assert option["QuoteResponse"]["QuoteData"][0]["Option"]["OptionGreeks"] == call["OptionGreeks"]


def test_unlisted_option_symbols_are_invalid_symbols(emu: Emulator, session: OAuth1Session) -> None:
    mixed = get(session, emu, "/v1/market/quote/AAPL,AAPL:2026:3:18:CALL:230.json").json()["QuoteResponse"]
    assert [q["Product"]["symbol"] for q in mixed["QuoteData"]] == ["AAPL"]
    assert mixed["Messages"]["Message"][0]["code"] == 1019
    for bad in ("AAPL:2026:3:20:CALL:230.3", "VFIAX:2026:3:20:PUT:600", "AAPL:2026:2:31:CALL:230"):
        assert error(get(session, emu, f"/v1/market/quote/{bad}.json"))[:2] == (400, 1019), bad


def test_after_hours_change_is_last_price_minus_previous_close(emu: Emulator) -> None:
    # Captured after-hours AAPL quote (E*TRADE, 2018-12-03 19:59 EST): ExtendedHourQuoteDetail
    # lastPrice 176.66, previousClose 184.82, change -8.16 = lastPrice - previousClose.
    emu.clock.set(datetime(2026, 3, 10, 22, 0, tzinfo=UTC))  # 18:00 EDT
    session = login(emu)
    seen = set()
    for minutes in (0, 10, 20, 30):
        emu.clock.set(datetime(2026, 3, 10, 22, minutes, tzinfo=UTC))
        [data] = get(session, emu, "/v1/market/quote/NVDA.json").json()["QuoteResponse"]["QuoteData"]
        q = data["All"]
        eh = q["ExtendedHourQuoteDetail"]
        assert eh["change"] == pytest.approx(eh["lastPrice"] - q["previousClose"], abs=0.0051)
        assert eh["change"] != 0
        assert eh["percentChange"] == pytest.approx(100 * eh["change"] / q["previousClose"], abs=0.01)
        assert abs(eh["lastPrice"] / q["lastTrade"] - 1) <= 0.0061
        seen.add(eh["lastPrice"])
    session.close()
    assert len(seen) > 1  # the after-hours price is not pinned to the close


def test_fund_quote_has_no_mini_options_and_a_string_transaction_fee(emu: Emulator, session: OAuth1Session) -> None:
    # Documented: MutualFund.transactionFee is a string ("an indicator (yes or no) ..."); mini
    # options exist for optionable securities, which a mutual fund is not.
    [fund] = get(session, emu, "/v1/market/quote/VFIAX.json").json()["QuoteResponse"]["QuoteData"]
    assert "hasMiniOptions" not in fund
    [detail] = get(session, emu, "/v1/market/quote/VFIAX.json", detailFlag="MF_DETAIL").json()["QuoteResponse"][
        "QuoteData"
    ]
    assert "hasMiniOptions" not in detail
    assert detail["MutualFund"]["transactionFee"] == "N"
    [stock] = get(session, emu, "/v1/market/quote/AAPL.json").json()["QuoteResponse"]["QuoteData"]
    assert stock["hasMiniOptions"] is False


def test_ex_dividend_and_payable_dates_are_never_on_weekends(emu: Emulator, session: OAuth1Session) -> None:
    payers = [inst for inst in universe.UNIVERSE.values() if inst.annual_dividend > 0]
    day = date(2025, 1, 1)
    while day < date(2027, 1, 1):
        for inst in payers:
            ex = ex_dividend_date(inst, day)
            assert ex is not None and ex.weekday() < 5 and ex <= day, (inst.symbol, day)
        day += timedelta(days=5)
    data = get(session, emu, "/v1/market/quote/" + ",".join(i.symbol for i in payers[:25]) + ".json").json()
    for quote in data["QuoteResponse"]["QuoteData"]:
        for field in ("exDividendDate", "dividendPayableDate"):
            shown = datetime.fromtimestamp(quote["All"][field], UTC)
            assert shown.weekday() < 5, (quote["Product"]["symbol"], field)


def test_lookup_errors_carry_the_documented_text(emu: Emulator, session: OAuth1Session) -> None:
    assert error(get(session, emu, "/v1/market/lookup/.json")) == (
        400,
        10043,
        "Missing symbol. Please enter valid symbol.",
    )
    assert error(get(session, emu, "/v1/market/lookup/%3Cscript%3E.json")) == (
        400,
        10033,
        "The symbol entered is invalid. Please enter another symbol.",
    )


def test_osi_keys_pad_the_root() -> None:
    from emulator.option_pricing import osi_key

    assert osi_key("IBM", date(2018, 8, 17), True, 200) == "IBM---180817C00200000"
    assert osi_key("PLTR", date(2022, 2, 18), False, 23) == "PLTR--220218P00023000"
    assert re.fullmatch(r"BRKB--\d{6}C\d{8}", osi_key("BRK.B", date(2026, 3, 20), True, 500))
