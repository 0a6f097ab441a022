"""Accounts-side values the emulator once answered differently from E*TRADE's documents and captures.

Each test names the documented or captured value it follows (reference/etrade-api.md §3.2-3.7):
- a production margin balance (2023 capture): ``dayTraderStatus`` NO_PDT with ``dtMarginBuyingPower``
  0 and ``dtCashBuyingPower`` 0, ``shortAdjustBalance`` 2913.88 beside ``netMvShort`` -2913.88;
- the documented CompleteView (66 fields, ``prevDayVolume``, never ``previousDayVolume``);
- ``optionLevelCd``: the number of the documented optionLevel (NO_OPTIONS, LEVEL_1 … LEVEL_4).
"""

from __future__ import annotations

from typing import Any

import pytest
from rauth import OAuth1Session

from emulator import Emulator
from tests.emulator.conftest import account_keys, get, open_account_key
from tests.emulator.test_orders import order_body, preview

#: E*TRADE's documented CompleteView properties (Accounts API, View Portfolio).
COMPLETE_VIEW_FIELDS = frozenset(
    {
        "adjLastTrade", "adjPrevClose", "adjPrice", "annualDividend", "ask", "askSize", "baseSymbolAndPrice",
        "beta", "bid", "bidAskSpread", "bidSize", "change", "changePct", "currency", "cusip", "daysRange",
        "daysToExpiration", "deliverablesStr", "delta", "delta52WkHigh", "delta52WkLow", "dividend", "divPayDate",
        "divYield", "eps", "estEarnings", "exchange", "exDividendDate", "gamma", "intrinsicValue", "ivPct",
        "lastTrade", "lastTradeTime", "marginable", "marketCap", "open", "openInterest", "optionMultiplier",
        "optionsAdjustedFlag", "peRatio", "perform12Month", "perform1Month", "perform3Month", "perform6Month",
        "premium", "prevClose", "prevDayVolume", "price", "priceAdjustedFlag", "quoteStatus", "rho",
        "sv10DaysAvg", "sv1MonAvg", "sv20DaysAvg", "sv2MonAvg", "sv3MonAvg", "sv4MonAvg", "sv6MonAvg",
        "symbolDescription", "tenDayVolume", "theta", "vega", "volume", "week52High", "week52Low", "week52Range",
    }
)  # fmt: skip


def balance(session: OAuth1Session, emu: Emulator, mode: str) -> dict[str, Any]:
    key = open_account_key(session, emu, mode)
    response = get(session, emu, f"/v1/accounts/{key}/balance.json", instType="BROKERAGE", realTimeNAV="true")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()["BalanceResponse"]
    return body


def test_short_adjust_balance_is_the_positive_value_of_the_shorts_as_captured(
    emu: Emulator, session: OAuth1Session
) -> None:
    margin = balance(session, emu, "MARGIN")
    computed = margin["Computed"]
    net_short = computed["RealTimeValues"]["netMvShort"]
    assert net_short < 0  # the seeded margin account holds a short
    # Captured: "shortAdjustBalance": 2913.88 with "netMvShort": -2913.88.
    assert computed["shortAdjustBalance"] == pytest.approx(-net_short, abs=0.01)
    assert computed["shortAdjustBalance"] > 0
    cash = balance(session, emu, "CASH")
    assert cash["Computed"]["shortAdjustBalance"] == 0


@pytest.mark.parametrize("mode", ["MARGIN", "CASH", "IRA"])
def test_no_pdt_account_has_zero_day_trading_buying_power_as_captured(
    emu: Emulator, session: OAuth1Session, mode: str
) -> None:
    body = balance(session, emu, mode)
    # Captured: "dayTraderStatus": "NO_PDT", "dtMarginBuyingPower": 0, "dtCashBuyingPower": 0 while
    # "marginBuyingPower": 4310 and "cashBuyingPower": 2155 are not.
    assert body["dayTraderStatus"] == "NO_PDT"
    assert body["Computed"]["dtMarginBuyingPower"] == 0
    assert body["Computed"]["dtCashBuyingPower"] == 0
    if mode == "MARGIN":
        assert body["Computed"]["marginBuyingPower"] > 0


def test_complete_view_has_every_documented_field_and_no_other(emu: Emulator, session: OAuth1Session) -> None:
    assert len(COMPLETE_VIEW_FIELDS) == 66
    key = open_account_key(session, emu)
    response = get(session, emu, f"/v1/accounts/{key}/portfolio.json", view="COMPLETE")
    positions = response.json()["PortfolioResponse"]["AccountPortfolio"][0]["Position"]
    assert positions
    for position in positions:
        complete = position["Complete"]
        assert set(complete) == COMPLETE_VIEW_FIELDS
        assert "previousDayVolume" not in complete
        assert complete["prevDayVolume"] > 0
        assert complete["price"] == complete["lastTrade"]
        assert complete["delta52WkHigh"] == pytest.approx(complete["lastTrade"] - complete["week52High"], abs=1e-3)


def test_complete_view_in_xml_uses_the_same_names(emu: Emulator, session: OAuth1Session) -> None:
    key = open_account_key(session, emu)
    response = get(session, emu, f"/v1/accounts/{key}/portfolio", view="COMPLETE")
    assert response.status_code == 200
    assert "<prevDayVolume>" in response.text and "<previousDayVolume>" not in response.text


def test_option_level_code_is_the_documented_level_number(emu: Emulator, session: OAuth1Session) -> None:
    expected = {"NO_OPTIONS": 0, "LEVEL_1": 1, "LEVEL_2": 2, "LEVEL_3": 3, "LEVEL_4": 4}
    seen: set[str] = set()
    for account in account_keys(session, emu):
        if account["accountStatus"] != "ACTIVE":
            continue
        key = account["accountIdKey"]
        level = get(session, emu, f"/v1/accounts/{key}/balance.json", instType="BROKERAGE").json()["BalanceResponse"][
            "optionLevel"
        ]
        previewed = preview(session, emu, key, order_body("AAPL", quantity=1, client_order_id=f"lvl{len(seen)}"))
        assert previewed.status_code == 200, previewed.text
        assert previewed.json()["PreviewOrderResponse"]["optionLevelCd"] == expected[level], level
        seen.add(level)
    # The seeded accounts cover more than one level, so the mapping is exercised, not assumed.
    assert len(seen) >= 2
