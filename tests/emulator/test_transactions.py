"""Transactions API at the emulator: E*TRADE's shapes, parameters, paging, codes, and a ledger
consistent with the book (every amount adds up to the cash; trades add up to the positions)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
from rauth import OAuth1Session

from emulator import Emulator
from emulator.clock import EASTERN
from tests.emulator.conftest import HTTP_TIMEOUT, get, open_account_key
from tests.emulator.test_orders import later, order_body, preview_and_place


def listing(session: OAuth1Session, emu: Emulator, key: str, **params: Any) -> requests.Response:
    return get(session, emu, f"/v1/accounts/{key}/transactions.json", **params)


def mmddyyyy(emu: Emulator, days_ago: int) -> str:
    return (emu.clock.now().astimezone(EASTERN).date() - timedelta(days=days_ago)).strftime("%m%d%Y")


def year_range(emu: Emulator) -> dict[str, str]:
    return {"startDate": mmddyyyy(emu, 365), "endDate": mmddyyyy(emu, 0)}


def error_code(response: requests.Response) -> tuple[int, int]:
    return response.status_code, int(response.json()["Error"]["code"])


def test_list_shape_follows_the_production_capture(emu: Emulator, session: OAuth1Session) -> None:
    key = open_account_key(session, emu)
    response = listing(session, emu, key)
    assert response.status_code == 200, response.text
    body = response.json()["TransactionListResponse"]
    assert body["transactionCount"] == len(body["Transaction"]) > 0
    assert body["totalCount"] >= body["transactionCount"]
    dates = [row["transactionDate"] for row in body["Transaction"]]
    assert dates == sorted(dates, reverse=True)  # DESC by default
    window_start = (emu.clock.now() - timedelta(days=30)).timestamp() * 1000
    assert min(dates) >= window_start  # no range: the last 30 days
    row = body["Transaction"][0]
    assert set(row) == {
        "transactionId", "accountId", "transactionDate", "postDate", "amount", "description", "transactionType",
        "memo", "imageFlag", "instType", "storeId", "brokerage", "detailsURI",
    }  # fmt: skip
    assert isinstance(row["transactionId"], str) and len(row["transactionId"]) == 14
    assert row["instType"] == "BROKERAGE"
    assert {"quantity", "price", "settlementCurrency", "paymentCurrency", "fee", "displaySymbol"} <= set(
        row["brokerage"]
    )
    # E*TRADE's own detailsURI: .json right after the collection, then the id and storeId.
    expected = f"{emu.base_url}/v1/accounts/{key}/transactions.json/{row['transactionId']}?storeId=0"
    assert row["detailsURI"] == expected


def test_details_through_the_details_uri_and_the_plain_path(emu: Emulator, session: OAuth1Session) -> None:
    key = open_account_key(session, emu)
    rows = listing(session, emu, key, **year_range(emu)).json()["TransactionListResponse"]["Transaction"]
    trade = next(row for row in rows if row["transactionType"] in ("Bought", "Sold"))
    uri = trade["detailsURI"]
    signed = session.get(uri.split("?")[0], params={"storeId": "0"}, header_auth=True, timeout=HTTP_TIMEOUT)
    assert signed.status_code == 200, signed.text
    details = signed.json()["TransactionDetailsResponse"]
    assert details["transactionId"] == trade["transactionId"]
    assert details["amount"] == trade["amount"]
    # Details capitalise the objects the list keeps lower-case.
    assert details["Brokerage"]["Product"]["symbol"] == trade["brokerage"]["product"]["symbol"]
    assert details["Brokerage"]["transactionType"] == trade["transactionType"]
    assert details["Category"]["categoryName"] == "Investments"
    plain = get(session, emu, f"/v1/accounts/{key}/transactions/{trade['transactionId']}")
    assert plain.status_code == 200
    assert plain.headers["Content-Type"].startswith("application/xml")
    assert f"<transactionId>{trade['transactionId']}</transactionId>" in plain.text


def test_marker_paging_walks_the_whole_range_once(emu: Emulator, session: OAuth1Session) -> None:
    key = open_account_key(session, emu)
    whole = listing(session, emu, key, count="50", **year_range(emu)).json()["TransactionListResponse"]
    total = whole["totalCount"]
    assert total > 14
    seen: list[str] = []
    params: dict[str, str] = {"count": "7", "sortOrder": "ASC", **year_range(emu)}
    pages = 0
    while True:
        body = listing(session, emu, key, **params).json()["TransactionListResponse"]
        assert body["totalCount"] == total
        seen.extend(row["transactionId"] for row in body["Transaction"])
        pages += 1
        if not body["moreTransactions"]:
            assert "marker" not in body and "next" not in body
            break
        assert body["transactionCount"] == 7
        assert f"marker={body['marker']}" in body["next"]
        params["marker"] = body["marker"]
    assert pages == -(-total // 7)
    assert len(seen) == len(set(seen)) == total
    descending = [
        row["transactionId"]
        for row in listing(session, emu, key, count="50", **year_range(emu)).json()["TransactionListResponse"][
            "Transaction"
        ]
    ]
    assert seen[::-1][: len(descending)] == descending


def test_the_next_url_is_a_working_request(emu: Emulator, session: OAuth1Session) -> None:
    key = open_account_key(session, emu)
    first = listing(session, emu, key, count="3", **year_range(emu)).json()["TransactionListResponse"]
    # rauth signs query parameters only when they come as params, so split the URL.
    url, _, query = first["next"].partition("?")
    follow = session.get(url, params=dict(parse_qsl(query)), header_auth=True, timeout=HTTP_TIMEOUT)
    assert follow.status_code == 200
    second = follow.json()["TransactionListResponse"]["Transaction"]
    assert second[0]["transactionId"] not in {row["transactionId"] for row in first["Transaction"]}


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"count": "0"}, 400, 2005),
        ({"count": "51"}, 400, 2005),
        ({"count": "ten"}, 400, 2005),
        ({"sortOrder": "UP"}, 400, 2007),
        ({"startDate": "2026-01-01", "endDate": "03012026"}, 400, 2004),
        ({"startDate": "13012026", "endDate": "03012026"}, 400, 2004),
        ({"startDate": "01012020", "endDate": "03012026"}, 400, 2003),
        ({"startDate": "01012026"}, 400, 2002),
        ({"startDate": "03012026", "endDate": "01012026"}, 400, 2002),
        ({"marker": "20001000000001_1", "pageMarker": "x"}, 400, 2008),
    ],
)
def test_documented_parameter_errors(
    emu: Emulator, session: OAuth1Session, params: dict[str, str], status: int, code: int
) -> None:
    key = open_account_key(session, emu)
    response = listing(session, emu, key, **params)
    assert error_code(response) == (status, code), response.text
    assert response.json()["Error"]["message"]


def test_account_key_errors_and_unknown_transaction(emu: Emulator, session: OAuth1Session) -> None:
    assert error_code(listing(session, emu, "short")) == (400, 102)
    assert error_code(listing(session, emu, "A" * 22)) == (400, 100)
    key = open_account_key(session, emu)
    missing = get(session, emu, f"/v1/accounts/{key}/transactions/99001000000001.json")
    assert error_code(missing) == (400, 9006)
    assert "not found" in missing.json()["Error"]["message"]


def test_nothing_in_range_is_204_with_an_empty_body(emu: Emulator, session: OAuth1Session) -> None:
    key = open_account_key(session, emu)
    # A Sunday, far from every seeded date of this account's month-end and mid-month entries.
    day = emu.clock.now().astimezone(EASTERN).date() - timedelta(days=400)
    while day.weekday() != 6 or day.day in (1, 15, 28, 29, 30, 31):
        day -= timedelta(days=1)
    stamp = day.strftime("%m%d%Y")
    response = listing(session, emu, key, startDate=stamp, endDate=stamp)
    assert response.status_code == 204 and response.content == b""


def test_seeded_history_adds_up_to_the_book(emu: Emulator) -> None:
    for account in emu.book.accounts():
        rows = emu.ledger.transactions(account.account_id_key)
        assert sum(row.amount for row in rows) == pytest.approx(account.cash, abs=0.01)
        shares: dict[str, float] = defaultdict(float)
        for row in rows:
            if row.transaction_type in ("Bought", "Sold", "Sold Short", "Bought To Cover"):
                shares[row.symbol] += row.quantity
        held = {p.symbol: p.quantity for p in account.positions.values()}
        assert {s: q for s, q in shares.items() if q} == held
        if account.is_open:
            kinds = {row.transaction_type for row in rows}
            assert {"Bought", "Sold", "Dividend", "Interest", "Fee", "Transfer"} <= kinds
            assert all(row.at <= emu.clock.now() for row in rows)


def test_a_filled_order_appears_as_a_transaction(emu: Emulator, session: OAuth1Session) -> None:
    key = open_account_key(session, emu)
    account = emu.book.account(key)
    assert account is not None
    order_id = preview_and_place(session, emu, key, order_body("AAPL", "BUY", 3, client_order_id="txn1"))
    later(emu, session, timedelta(minutes=5))
    rows = listing(session, emu, key).json()["TransactionListResponse"]["Transaction"]
    newest = rows[0]
    assert newest["transactionType"] == "Bought"
    assert newest["brokerage"]["product"]["symbol"] == "AAPL"
    assert newest["brokerage"]["quantity"] == 3
    price = newest["brokerage"]["price"]
    assert newest["amount"] == pytest.approx(-3 * price, abs=0.01)
    details = get(session, emu, f"/v1/accounts/{key}/transactions/{newest['transactionId']}.json").json()
    assert details["TransactionDetailsResponse"]["Brokerage"]["orderNo"] == str(order_id)
    all_rows = emu.ledger.transactions(key)
    assert sum(row.amount for row in all_rows) == pytest.approx(account.cash, abs=0.02)
