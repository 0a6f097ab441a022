"""Accounts API: list, balance, portfolio (views, paging, sorting, totals, lots), errors."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

import pytest
from rauth import OAuth1Session

from emulator import Emulator
from tests.emulator.conftest import account_keys, admin, get, open_account_key


def portfolio(session: OAuth1Session, emu: Emulator, key: str, **params: Any) -> dict[str, Any]:
    response = get(session, emu, f"/v1/accounts/{key}/portfolio.json", **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()["PortfolioResponse"]
    return body


def all_positions(session: OAuth1Session, emu: Emulator, key: str, **params: Any) -> list[dict[str, Any]]:
    [account_portfolio] = portfolio(session, emu, key, **params)["AccountPortfolio"]
    positions: list[dict[str, Any]] = account_portfolio["Position"]
    return positions


def error(response: Any) -> tuple[int, int, str]:
    body = response.json()["Error"]
    return response.status_code, body["code"], body["message"]


# -- list ---------------------------------------------------------------------------------


def test_account_list_shape(emu: Emulator, session: OAuth1Session) -> None:
    accounts = account_keys(session, emu)
    assert len(accounts) == 4
    expected = {
        "accountId", "accountIdKey", "accountMode", "accountDesc", "accountName", "accountType",
        "institutionType", "accountStatus", "closedDate", "shareWorksAccount", "fcManagedMssbClosedAccount",
    }  # fmt: skip
    for account in accounts:
        assert set(account) == expected
        assert len(account["accountIdKey"]) == 22
        assert account["accountId"].isdigit()
        assert account["institutionType"] == "BROKERAGE"
    modes = sorted((a["accountMode"], a["accountStatus"]) for a in accounts)
    assert modes == [("CASH", "ACTIVE"), ("CASH", "CLOSED"), ("IRA", "ACTIVE"), ("MARGIN", "ACTIVE")]
    [closed] = [a for a in accounts if a["accountStatus"] == "CLOSED"]
    assert closed["closedDate"] > 1_500_000_000  # epoch seconds
    assert all(a["closedDate"] == 0 for a in accounts if a is not closed)


def test_account_list_is_xml_by_default(emu: Emulator, session: OAuth1Session) -> None:
    response = get(session, emu, "/v1/accounts/list")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "AccountListResponse"
    accounts = root.findall("./Accounts/Account")
    assert len(accounts) == 4
    assert {a.findtext("shareWorksAccount") for a in accounts} == {"false"}


def test_accept_header_selects_json(emu: Emulator, session: OAuth1Session) -> None:
    response = session.get(
        f"{emu.base_url}/v1/accounts/list", params={}, header_auth=True, headers={"Accept": "application/json"}
    )
    assert response.json()["AccountListResponse"]["Accounts"]["Account"]


# -- account key errors -------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["balance.json?instType=BROKERAGE", "portfolio.json", "portfolio.json/123"])
def test_unknown_and_malformed_account_keys(emu: Emulator, session: OAuth1Session, suffix: str) -> None:
    path, _, query = suffix.partition("?")
    params = dict([query.split("=")]) if query else {}
    unknown = get(session, emu, f"/v1/accounts/AAAAAAAAAAAAAAAAAAAAAA/{path}", **params)
    assert error(unknown) == (400, 100, "Account key does not belong to user")
    malformed = get(session, emu, f"/v1/accounts/short!key/{path}", **params)
    assert error(malformed) == (400, 102, "Please enter valid account key")


# -- balance ------------------------------------------------------------------------------


def test_balance_requires_inst_type(emu: Emulator, session: OAuth1Session) -> None:
    key = open_account_key(session, emu)
    assert error(get(session, emu, f"/v1/accounts/{key}/balance.json")) == (400, 7002, "Invalid institution type")
    assert error(get(session, emu, f"/v1/accounts/{key}/balance.json", instType="BANK"))[1] == 7002


@pytest.mark.parametrize("mode", ["MARGIN", "CASH", "IRA"])
def test_balance_agrees_with_portfolio_and_quotes(emu: Emulator, session: OAuth1Session, mode: str) -> None:
    key = open_account_key(session, emu, mode)
    response = get(session, emu, f"/v1/accounts/{key}/balance.json", instType="BROKERAGE", realTimeNAV="true")
    assert response.status_code == 200
    balance = response.json()["BalanceResponse"]
    assert balance["accountMode"] == mode
    computed = balance["Computed"]
    rtv = computed["RealTimeValues"]
    body = portfolio(session, emu, key, totalsRequired="true")
    totals = body["Totals"]
    positions = body["AccountPortfolio"][0]["Position"]
    net = sum(p["marketValue"] for p in positions)
    assert rtv["netMv"] == pytest.approx(net, abs=0.02)
    assert rtv["netMv"] == pytest.approx(rtv["netMvLong"] + rtv["netMvShort"], abs=0.01)
    assert rtv["totalAccountValue"] == pytest.approx(computed["cashBalance"] + rtv["netMv"], abs=0.01)
    assert totals["cashBalance"] == computed["cashBalance"]
    assert totals["totalMarketValue"] == pytest.approx(rtv["netMv"], abs=0.01)
    assert computed["cashBuyingPower"] >= 0
    if mode == "MARGIN":
        assert computed["marginBuyingPower"] > computed["cashBuyingPower"]
        assert rtv["netMvShort"] < 0
        assert "Margin" in balance
    else:
        assert computed["marginBuyingPower"] == 0
        assert rtv["netMvShort"] == 0


def test_balance_without_real_time_nav_uses_previous_close(emu: Emulator, session: OAuth1Session) -> None:
    key = open_account_key(session, emu)
    live = get(session, emu, f"/v1/accounts/{key}/balance.json", instType="BROKERAGE", realTimeNAV="true")
    close = get(session, emu, f"/v1/accounts/{key}/balance.json", instType="BROKERAGE")
    positions = all_positions(session, emu, key)
    at_close = sum(p["quantity"] * p["adjPrevClose"] for p in positions)
    assert close.json()["BalanceResponse"]["Computed"]["RealTimeValues"]["netMv"] == pytest.approx(at_close, abs=0.05)
    assert live.json() != close.json()


# -- portfolio ----------------------------------------------------------------------------


def test_portfolio_position_shape_and_arithmetic(emu: Emulator, session: OAuth1Session) -> None:
    key = open_account_key(session, emu)
    positions = all_positions(session, emu, key)
    assert 5 <= len(positions) <= 12
    for p in positions:
        quick = p["Quick"]
        assert set(quick) == {"lastTrade", "lastTradeTime", "change", "changePct", "volume", "quoteStatus"}
        assert quick["quoteStatus"] == "REALTIME"
        assert p["marketValue"] == pytest.approx(p["quantity"] * quick["lastTrade"], abs=0.01)
        assert p["totalGain"] == pytest.approx(p["marketValue"] - p["totalCost"], abs=0.01)
        assert p["daysGain"] == pytest.approx(p["quantity"] * (quick["lastTrade"] - p["adjPrevClose"]), abs=0.01)
        assert p["dateAcquired"] > 10**12  # milliseconds
        assert p["Product"]["symbol"] == p["symbolDescription"]
        assert p["lotsDetails"].endswith(f"/v1/accounts/{key}/portfolio/{p['positionId']}.json")
        assert p["quoteDetails"].endswith(f"/v1/market/quote/{p['symbolDescription']}.json")
        assert isinstance(p["positionId"], int)
        if p["positionType"] == "SHORT":
            assert p["quantity"] < 0 and p["positionIndicator"] == "TYPE5" and p["marketValue"] < 0
        else:
            assert p["quantity"] > 0 and p["positionIndicator"] == "TYPE2"
    assert sum(p["positionType"] == "SHORT" for p in positions) == 1
    etfs = [p for p in positions if p["Product"].get("securitySubType") == "ETF"]
    assert etfs, "the margin account holds an ETF"


def test_positions_follow_the_quotes(emu: Emulator, session: OAuth1Session) -> None:
    key = open_account_key(session, emu)
    before = {p["symbolDescription"]: p for p in all_positions(session, emu, key)}
    emu.clock.advance(timedelta(hours=1, minutes=30))  # within the 2-hour idle limit
    after = all_positions(session, emu, key)
    assert any(p["Quick"]["lastTrade"] != before[p["symbolDescription"]]["Quick"]["lastTrade"] for p in after)
    symbols = ",".join(p["symbolDescription"] for p in after)
    quotes = get(session, emu, f"/v1/market/quote/{symbols}.json").json()["QuoteResponse"]["QuoteData"]
    last = {q["Product"]["symbol"]: q["All"]["lastTrade"] for q in quotes}
    for p in after:
        assert p["Quick"]["lastTrade"] == last[p["symbolDescription"]]


@pytest.mark.parametrize(
    ("view", "fields"),
    [
        ("QUICK", {"volume"}),
        ("PERFORMANCE", {"daysGain", "marketValue", "totalGain", "totalGainPct"}),
        ("FUNDAMENTAL", {"dividend", "divYield", "eps", "marketCap", "peRatio", "week52Range"}),
        ("OPTIONSWATCH", {"ask", "bid", "baseSymbolAndPrice", "premium"}),
        ("COMPLETE", {"ask", "bid", "beta", "eps", "marketCap", "week52High", "week52Low", "prevClose", "open"}),
    ],
)
def test_portfolio_views(emu: Emulator, session: OAuth1Session, view: str, fields: set[str]) -> None:
    container = {"QUICK": "Quick", "OPTIONSWATCH": "OptionsWatch"}.get(view, view.title())
    key = open_account_key(session, emu)
    for position in all_positions(session, emu, key, view=view):
        assert container in position
        assert fields <= set(position[container])
        assert {"lastTrade", "lastTradeTime", "quoteStatus"} <= set(position[container])
        others = {"Quick", "Performance", "Fundamental", "OptionsWatch", "Complete"} - {container}
        assert not others & set(position)


def test_portfolio_paging(emu: Emulator, session: OAuth1Session) -> None:
    key = open_account_key(session, emu)
    everything = all_positions(session, emu, key)
    total_pages = math.ceil(len(everything) / 3)
    seen: list[str] = []
    for page in range(1, total_pages + 1):
        [block] = portfolio(session, emu, key, count=3, pageNumber=page)["AccountPortfolio"]
        assert block["totalPages"] == total_pages
        assert len(block["Position"]) == (3 if page < total_pages else len(everything) - 3 * (total_pages - 1))
        if page < total_pages:
            assert block["nextPageNo"] == str(page + 1)
            assert f"pageNumber={page + 1}" in block["next"]
        else:
            assert "nextPageNo" not in block and "next" not in block
        seen.extend(p["symbolDescription"] for p in block["Position"])
    assert sorted(seen) == sorted(p["symbolDescription"] for p in everything)
    past_end = get(session, emu, f"/v1/accounts/{key}/portfolio.json", count=3, pageNumber=total_pages + 1)
    assert past_end.status_code == 204 and past_end.content == b""
    [single] = portfolio(session, emu, key)["AccountPortfolio"]
    assert single["totalPages"] == 1 and "nextPageNo" not in single


def test_portfolio_sorting(emu: Emulator, session: OAuth1Session) -> None:
    key = open_account_key(session, emu)
    desc = [p["marketValue"] for p in all_positions(session, emu, key, sortBy="MARKET_VALUE")]
    assert desc == sorted(desc, reverse=True)  # sortOrder defaults to DESC
    asc = [p["symbolDescription"] for p in all_positions(session, emu, key, sortBy="SYMBOL", sortOrder="ASC")]
    assert asc == sorted(asc)
    assert error(get(session, emu, f"/v1/accounts/{key}/portfolio.json", sortBy="NOPE"))[:2] == (400, 2006)
    assert error(get(session, emu, f"/v1/accounts/{key}/portfolio.json", sortOrder="UP"))[:2] == (400, 2007)
    assert error(get(session, emu, f"/v1/accounts/{key}/portfolio.json", count="0"))[:2] == (400, 2005)
    assert get(session, emu, f"/v1/accounts/{key}/portfolio.json", view="WIDE").status_code == 400
    assert get(session, emu, f"/v1/accounts/{key}/portfolio.json", totalsRequired="maybe").status_code == 400


def test_portfolio_totals_only_when_required(emu: Emulator, session: OAuth1Session) -> None:
    key = open_account_key(session, emu)
    assert "Totals" not in portfolio(session, emu, key)
    body = portfolio(session, emu, key, totalsRequired="true")
    totals = body["Totals"]
    positions = body["AccountPortfolio"][0]["Position"]
    assert set(totals) == {
        "todaysGainLoss", "todaysGainLossPct", "totalMarketValue", "totalGainLoss", "totalGainLossPct",
        "totalPricePaid", "cashBalance",
    }  # fmt: skip
    assert totals["totalGainLoss"] == pytest.approx(sum(p["totalGain"] for p in positions), abs=0.01)
    assert totals["todaysGainLoss"] == pytest.approx(sum(p["daysGain"] for p in positions), abs=0.01)
    assert totals["totalPricePaid"] == pytest.approx(sum(p["totalCost"] for p in positions), abs=0.01)


def test_position_lots(emu: Emulator, session: OAuth1Session) -> None:
    key = open_account_key(session, emu)
    positions = all_positions(session, emu, key, lotsRequired="true")
    multi = [p for p in positions if len(p["PositionLot"]) > 1]
    assert multi, "at least one position is made of several lots"
    position = multi[0]
    response = get(session, emu, f"/v1/accounts/{key}/portfolio/{position['positionId']}.json")
    assert response.status_code == 200
    lots = response.json()["PositionLotsResponse"]["PositionLot"]
    assert lots == position["PositionLot"]
    assert sum(lot["remainingQty"] for lot in lots) == position["quantity"]
    assert sum(lot["marketValue"] for lot in lots) == pytest.approx(position["marketValue"], abs=0.01)
    assert sum(lot["totalCost"] for lot in lots) == pytest.approx(position["totalCost"], abs=0.01)
    assert min(lot["acquiredDate"] for lot in lots) == position["dateAcquired"]
    for lot in lots:
        assert lot["positionId"] == position["positionId"]
        assert lot["totalGain"] == pytest.approx(lot["marketValue"] - lot["totalCost"], abs=0.01)
    # The URL E*TRADE hands out, with .json right after the collection, works too.
    via_detail_url = get(session, emu, f"/v1/accounts/{key}/portfolio.json/{position['positionId']}")
    assert via_detail_url.json() == response.json()
    missing = get(session, emu, f"/v1/accounts/{key}/portfolio/12345.json")
    assert missing.status_code == 204
    assert "PositionLot" not in all_positions(session, emu, key)[0]


def test_position_lots_in_xml(emu: Emulator, session: OAuth1Session) -> None:
    key = open_account_key(session, emu)
    position = all_positions(session, emu, key)[0]
    response = get(session, emu, f"/v1/accounts/{key}/portfolio/{position['positionId']}")
    root = ET.fromstring(response.content)
    assert root.tag == "PositionLotsResponse"
    assert root.findall("PositionLot")


def test_empty_portfolio_is_204(emu: Emulator, session: OAuth1Session) -> None:
    key = open_account_key(session, emu, "CASH")
    cleared = admin(emu, "DELETE", f"/accounts/{key}/positions")
    assert cleared.status_code == 200 and cleared.json()["positions"] == 0
    response = get(session, emu, f"/v1/accounts/{key}/portfolio.json")
    assert response.status_code == 204
    assert response.content == b""
    balance = get(session, emu, f"/v1/accounts/{key}/balance.json", instType="BROKERAGE", realTimeNAV="true")
    rtv = balance.json()["BalanceResponse"]["Computed"]["RealTimeValues"]
    assert rtv["netMv"] == 0 and rtv["totalAccountValue"] == balance.json()["BalanceResponse"]["Computed"]["netCash"]


def test_closed_account_has_no_portfolio(emu: Emulator, session: OAuth1Session) -> None:
    [closed] = [a for a in account_keys(session, emu) if a["accountStatus"] == "CLOSED"]
    assert get(session, emu, f"/v1/accounts/{closed['accountIdKey']}/portfolio.json").status_code == 204
