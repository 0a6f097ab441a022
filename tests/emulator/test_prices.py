"""The admin interface moves the market: ``POST /_emulator/prices`` with a factor or a price."""

from __future__ import annotations

import pytest
import requests
from rauth import OAuth1Session

from emulator import Emulator
from tests.emulator.conftest import HTTP_TIMEOUT, get


def quote_of(session: OAuth1Session, emu: Emulator, symbol: str) -> dict[str, float]:
    data = get(session, emu, f"/v1/market/quote/{symbol}.json").json()["QuoteResponse"]["QuoteData"][0]["All"]
    return {"last": data["lastTrade"], "bid": data["bid"], "ask": data["ask"]}


def move(emu: Emulator, body: object) -> requests.Response:
    return requests.post(f"{emu.base_url}/_emulator/prices", json=body, timeout=HTTP_TIMEOUT)


def test_a_factor_moves_the_quote_and_its_bid_and_ask(emu: Emulator, session: OAuth1Session) -> None:
    before = quote_of(session, emu, "KO")
    answer = move(emu, {"symbol": "ko", "factor": 1.9})
    assert answer.status_code == 200, answer.text
    after = quote_of(session, emu, "KO")
    assert after["last"] == pytest.approx(before["last"] * 1.9, abs=0.01)
    assert answer.json() == {"symbol": "KO", **after}
    assert after["bid"] <= after["last"] <= after["ask"]
    assert after["ask"] > before["ask"] * 1.8


def test_a_price_sets_the_quote(emu: Emulator, session: OAuth1Session) -> None:
    assert move(emu, {"symbol": "KO", "price": 120.5}).status_code == 200
    assert quote_of(session, emu, "KO")["last"] == 120.5
    # The walk goes on from there: other symbols are untouched.
    assert quote_of(session, emu, "MSFT")["last"] != 120.5


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"symbol": "KO"}, 400, "exactly one of factor"),
        ({"symbol": "KO", "factor": 2, "price": 3}, 400, "exactly one of factor"),
        ({"symbol": "KO", "factor": -1}, 400, "factor must be a positive number"),
        ({"symbol": "KO", "price": True}, 400, "price must be a positive number"),
        ({"symbol": "KO", "price": 2_000_000}, 400, "between 0.01 and 1000000"),
        ({"symbol": "", "price": 3}, 400, "symbol must be"),
        ({"symbol": "NOSUCH", "price": 3}, 404, "no symbol 'NOSUCH'"),
        ({"symbol": "KO", "price": 3, "when": "now"}, 400, "unknown price fields: when"),
    ],
)
def test_bad_price_moves_are_refused_with_the_reason(emu: Emulator, body: object, status: int, says: str) -> None:
    answer = move(emu, body)
    assert answer.status_code == status
    assert says in answer.json()["error"]
