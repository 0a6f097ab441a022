"""Market API: quotes (limits, detail flags, invalid symbols, hours) and product lookup."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from rauth import OAuth1Session

from emulator import Emulator, universe
from tests.emulator.conftest import get, login


@contextmanager
def logged_in(emu: Emulator) -> Iterator[OAuth1Session]:
    """A session opened at the emulator's current instant (so it isn't idle or expired)."""
    session = login(emu)
    try:
        yield session
    finally:
        session.close()


SYMBOLS = [s for s, inst in universe.UNIVERSE.items() if not inst.is_mutual_fund]


def quote(session: OAuth1Session, emu: Emulator, symbols: list[str] | str, **params: Any) -> Any:
    joined = symbols if isinstance(symbols, str) else ",".join(symbols)
    return get(session, emu, f"/v1/market/quote/{joined}.json", **params)


def error(response: Any) -> tuple[int, int, str]:
    body = response.json()["Error"]
    return response.status_code, body["code"], body["message"]


def test_universe_is_about_eighty_real_tickers() -> None:
    assert 75 <= len(universe.UNIVERSE) <= 100
    for must in ("SPY", "QQQ", "VTI", "BND", "GLD", "AAPL", "MSFT", "JPM", "XOM"):
        assert must in universe.UNIVERSE
    assert universe.UNIVERSE["SPY"].security_sub_type == "ETF"
    assert universe.sector_of("AAPL") == "Information Technology"
    assert universe.sector_of("NOPE") is None


def test_quote_all_shape(emu: Emulator, session: OAuth1Session) -> None:
    response = quote(session, emu, "AAPL")
    assert response.status_code == 200
    [data] = response.json()["QuoteResponse"]["QuoteData"]
    assert data["Product"] == {"symbol": "AAPL", "securityType": "EQ"}
    assert data["dateTime"] == "11:00:00 EDT 03-10-2026"
    assert data["dateTimeUTC"] == int(emu.clock.now().timestamp())
    assert data["quoteStatus"] == "REALTIME"
    assert data["ahFlag"] == "false"  # a string on the wire
    assert data["hasMiniOptions"] is False
    q = data["All"]
    assert q["companyName"] == "APPLE INC COM" and q["primaryExchange"] == "NSDQ"
    assert 0 < q["bid"] < q["ask"]
    assert q["bidSize"] > 0 and q["askSize"] > 0
    assert q["low"] <= q["lastTrade"] <= q["high"]
    assert q["low52"] <= q["low"] and q["high"] <= q["high52"]
    assert q["changeClose"] == pytest.approx(q["lastTrade"] - q["previousClose"], abs=0.001)
    assert q["changeClosePercentage"] == pytest.approx(100 * q["changeClose"] / q["previousClose"], abs=0.001)
    assert q["totalVolume"] > 0 and q["previousDayVolume"] > 0
    assert q["nextEarningDate"] == ""
    assert "ExtendedHourQuoteDetail" not in q
    for seconds in ("timeOfLastTrade", "week52HiDate", "week52LowDate", "exDividendDate"):
        assert 10**9 < q[seconds] < 10**10, seconds
    assert "sector" not in response.text.lower()


def test_quote_is_xml_by_default(emu: Emulator, session: OAuth1Session) -> None:
    response = get(session, emu, "/v1/market/quote/MSFT,SPY")
    root = ET.fromstring(response.content)
    assert root.tag == "QuoteResponse"
    assert [q.findtext("Product/symbol") for q in root.findall("QuoteData")] == ["MSFT", "SPY"]
    assert root.findtext("QuoteData/All/lastTrade") is not None


def test_earnings_date_and_mini_options_flags(emu: Emulator, session: OAuth1Session) -> None:
    [data] = quote(session, emu, "AAPL", requireEarningsDate="true", skipMiniOptionsCheck="true").json()[
        "QuoteResponse"
    ]["QuoteData"]
    assert "hasMiniOptions" not in data
    month, day, year = data["All"]["nextEarningDate"].split("/")
    assert datetime(int(year), int(month), int(day)) > datetime(2026, 3, 10)


@pytest.mark.parametrize(
    ("count", "override", "outcome"),
    [
        (25, None, 200),
        (26, None, (400, 1023)),
        (26, "true", 200),
        (50, "true", 200),
        (50, "false", (400, 1023)),
        (51, "true", (400, 1025)),
        (51, None, (400, 1025)),
    ],
)
def test_quote_symbol_limits(
    emu: Emulator, session: OAuth1Session, count: int, override: str | None, outcome: Any
) -> None:
    params = {"overrideSymbolCount": override} if override else {}
    response = quote(session, emu, SYMBOLS[:count], **params)
    if outcome == 200:
        assert response.status_code == 200
        assert len(response.json()["QuoteResponse"]["QuoteData"]) == count
    else:
        assert error(response)[:2] == outcome
    assert emu.stats()["requests_by_module"] == {"market": 1}  # many symbols, one request


def test_limit_error_messages(emu: Emulator, session: OAuth1Session) -> None:
    assert error(quote(session, emu, SYMBOLS[:26]))[2] == "Invalid count. A request may contain up to 25 quotes."
    assert error(quote(session, emu, SYMBOLS[:51]))[2] == "Invalid count. A request may contain up to 50 quotes."


def test_mixed_valid_and_invalid_symbols(emu: Emulator, session: OAuth1Session) -> None:
    response = quote(session, emu, "AAPL,NOTREAL,msft")
    assert response.status_code == 200
    body = response.json()["QuoteResponse"]
    assert [q["Product"]["symbol"] for q in body["QuoteData"]] == ["AAPL", "MSFT"]
    [message] = body["Messages"]["Message"]
    assert message["code"] == 1019
    assert "NOTREAL" in message["description"]


def test_only_invalid_symbols(emu: Emulator, session: OAuth1Session) -> None:
    assert error(quote(session, emu, "NOTREAL,ALSOFAKE")) == (400, 1019, "Invalid symbol.")
    assert error(get(session, emu, "/v1/market/quote/.json"))[:2] == (400, 1019)


@pytest.mark.parametrize(
    ("flag", "container", "fields"),
    [
        ("FUNDAMENTAL", "Fundamental", {"companyName", "eps", "estEarnings", "high52", "lastTrade", "low52"}),
        ("INTRADAY", "Intraday", {"ask", "bid", "changeClose", "changeClosePercentage", "high", "low", "totalVolume"}),
        ("OPTIONS", "Option", {"ask", "askSize", "bid", "bidSize", "lastTrade", "osiKey", "OptionGreeks"}),
        ("WEEK_52", "Week52", {"high52", "low52", "lastTrade", "perf12Months", "previousClose", "totalVolume"}),
        ("ALL", "All", {"lastTrade", "bid", "ask", "high52", "companyName"}),
    ],
)
def test_detail_flags(emu: Emulator, session: OAuth1Session, flag: str, container: str, fields: set[str]) -> None:
    [data] = quote(session, emu, "IBM", detailFlag=flag).json()["QuoteResponse"]["QuoteData"]
    assert fields <= set(data[container])
    assert not {"All", "Fundamental", "Intraday", "Option", "Week52", "MutualFund"} - {container} & set(data)


def test_detail_flag_is_case_insensitive_in_name_and_value(emu: Emulator, session: OAuth1Session) -> None:
    # pyetrade sends "detailflag"; E*TRADE evidently accepts it.
    [data] = quote(session, emu, "IBM", detailflag="intraday").json()["QuoteResponse"]["QuoteData"]
    assert "Intraday" in data


def test_bad_detail_flag(emu: Emulator, session: OAuth1Session) -> None:
    assert error(quote(session, emu, "IBM", detailFlag="EVERYTHING")) == (400, 1020, "Invalid detail flag.")


def test_mutual_fund_detail(emu: Emulator, session: OAuth1Session) -> None:
    body = quote(session, emu, "VFIAX,AAPL", detailFlag="MF_DETAIL").json()["QuoteResponse"]
    [fund] = body["QuoteData"]
    assert fund["Product"] == {"symbol": "VFIAX", "securityType": "MF"}
    assert fund["MutualFund"]["netAssetValue"] > 0
    assert body["Messages"]["Message"][0]["code"] == 1024
    assert error(quote(session, emu, "AAPL", detailFlag="MF_DETAIL"))[:2] == (400, 1024)


@pytest.mark.parametrize(
    ("moment", "status", "ah_flag", "eh_status"),
    [
        (datetime(2026, 3, 10, 13, 30, tzinfo=UTC), "REALTIME", "false", None),  # 09:30 EDT open
        (datetime(2026, 3, 10, 19, 59, tzinfo=UTC), "REALTIME", "false", None),  # 15:59 EDT
        (datetime(2026, 3, 10, 20, 0, tzinfo=UTC), "CLOSING", "true", "EH_REALTIME"),  # 16:00 EDT close
        (datetime(2026, 3, 10, 12, 0, tzinfo=UTC), "CLOSING", "true", "EH_REALTIME"),  # 08:00 EDT pre-market
        (datetime(2026, 3, 11, 2, 0, tzinfo=UTC), "CLOSING", "false", None),  # 22:00 EDT
        (datetime(2026, 3, 14, 16, 0, tzinfo=UTC), "CLOSING", "false", None),  # Saturday noon
        (datetime(2026, 1, 6, 14, 30, tzinfo=UTC), "REALTIME", "false", None),  # 09:30 EST in winter
        (datetime(2026, 1, 6, 14, 29, tzinfo=UTC), "CLOSING", "true", "EH_REALTIME"),  # 09:29 EST
    ],
)
def test_quote_status_follows_us_market_hours_on_the_emulator_clock(
    emu: Emulator, moment: datetime, status: str, ah_flag: str, eh_status: str | None
) -> None:
    emu.clock.set(moment)
    with logged_in(emu) as session:
        [data] = quote(session, emu, "AAPL").json()["QuoteResponse"]["QuoteData"]
    assert (data["quoteStatus"], data["ahFlag"]) == (status, ah_flag)
    extended = data["All"].get("ExtendedHourQuoteDetail")
    assert (extended["quoteStatus"] if extended else None) == eh_status


def test_pre_market_shows_the_new_day_with_the_last_close(emu: Emulator, session: OAuth1Session) -> None:
    [during] = quote(session, emu, "AAPL").json()["QuoteResponse"]["QuoteData"]
    emu.clock.set(datetime(2026, 3, 10, 21, 0, tzinfo=UTC))  # 17:00 EDT, after the close
    with logged_in(emu) as evening:
        [closed] = quote(evening, emu, "AAPL").json()["QuoteResponse"]["QuoteData"]
    assert closed["All"]["timeOfLastTrade"] == int(datetime(2026, 3, 10, 20, 0, tzinfo=UTC).timestamp())
    assert closed["All"]["open"] == during["All"]["open"]
    assert closed["All"]["previousClose"] == during["All"]["previousClose"]
    emu.clock.set(datetime(2026, 3, 11, 12, 0, tzinfo=UTC))  # 08:00 EDT the next day
    with logged_in(emu) as morning:
        [pre] = quote(morning, emu, "AAPL").json()["QuoteResponse"]["QuoteData"]
    q = pre["All"]
    assert q["previousClose"] == q["lastTrade"] == closed["All"]["lastTrade"]
    assert (q["open"], q["high"], q["low"], q["changeClose"], q["totalVolume"]) == (0, 0, 0, 0, 0)


def test_lookup(emu: Emulator, session: OAuth1Session) -> None:
    response = get(session, emu, "/v1/market/lookup/apple.json")
    assert response.status_code == 200
    assert response.json() == {
        "LookupResponse": {"Data": [{"symbol": "AAPL", "description": "APPLE INC COM", "type": "EQUITY"}]}
    }
    several = get(session, emu, "/v1/market/lookup/vanguard.json").json()["LookupResponse"]["Data"]
    assert {"VTI", "BND", "VFIAX"} <= {d["symbol"] for d in several}
    assert {d["type"] for d in several} == {"EQUITY", "MUTUAL_FUND"}
    spaced = get(session, emu, "/v1/market/lookup/coca%20cola.json").json()["LookupResponse"]["Data"]
    assert [d["symbol"] for d in spaced] == ["KO"]


def test_lookup_without_match_and_errors(emu: Emulator, session: OAuth1Session) -> None:
    assert get(session, emu, "/v1/market/lookup/zzzqqq.json").json() == {"LookupResponse": {}}
    empty_xml = get(session, emu, "/v1/market/lookup/zzzqqq")
    assert empty_xml.text.endswith("<LookupResponse/>")
    assert error(get(session, emu, "/v1/market/lookup/.json"))[:2] == (400, 10043)
    assert error(get(session, emu, "/v1/market/lookup/%3Cscript%3E.json"))[:2] == (400, 10033)
