"""Orders API: the price types, terms and sessions E*TRADE lists (reference §3.6) are accepted for
equities, and each behaves as its name says on the emulator clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rauth import OAuth1Session

from emulator import Emulator
from tests.emulator.conftest import login, open_account_key
from tests.emulator.test_orders import detail, error_of, later, order_body, preview, preview_and_place


@pytest.fixture
def margin_key(emu: Emulator, session: OAuth1Session) -> str:
    return open_account_key(session, emu, "MARGIN")


@pytest.mark.parametrize(
    ("price_type", "limit", "stop", "term", "market_session"),
    [
        ("TRAILING_STOP_CNST", "", "2.50", "GOOD_UNTIL_CANCEL", "REGULAR"),
        ("TRAILING_STOP_PRCT", "", "5", "GOOD_FOR_DAY", "REGULAR"),
        ("MARKET_ON_OPEN", "", "", "GOOD_FOR_DAY", "REGULAR"),
        ("MARKET_ON_CLOSE", "", "", "GOOD_FOR_DAY", "REGULAR"),
        ("LIMIT_ON_OPEN", "60", "", "GOOD_FOR_DAY", "REGULAR"),
        ("LIMIT_ON_CLOSE", "60", "", "GOOD_FOR_DAY", "REGULAR"),
        ("LIMIT", "60", "", "GOOD_TILL_DATE", "REGULAR"),
        ("LIMIT", "60", "", "GOOD_FOR_DAY", "EXTENDED"),
    ],
)
def test_listed_price_types_terms_and_sessions_preview(
    emu: Emulator,
    session: OAuth1Session,
    margin_key: str,
    price_type: str,
    limit: str,
    stop: str,
    term: str,
    market_session: str,
) -> None:
    body = order_body("KO", "BUY", 1, price_type, limit=limit, stop=stop, term=term, session=market_session)
    response = preview(session, emu, margin_key, body)
    assert response.status_code == 200, response.text
    [order] = response.json()["PreviewOrderResponse"]["Order"]
    assert (order["priceType"], order["orderTerm"], order["marketSession"]) == (price_type, term, market_session)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (order_body(price_type="NET_DEBIT"), "NET_DEBIT applies to multi-leg option orders, not to equities."),
        (order_body(price_type="TRAILING_STOP_CNST"), "A stopPrice is required for TRAILING_STOP_CNST orders."),
        (order_body(price_type="LIMIT_ON_CLOSE"), "A limitPrice is required for LIMIT_ON_CLOSE orders."),
        (
            order_body(price_type="TRAILING_STOP_PRCT", stop="150"),
            "A TRAILING_STOP_PRCT trail (stopPrice) is a percentage below 100.",
        ),
        (
            order_body(price_type="MARKET_ON_CLOSE", term="GOOD_UNTIL_CANCEL"),
            "MARKET_ON_CLOSE orders are GOOD_FOR_DAY only.",
        ),
    ],
)
def test_rule_breaks_are_order_errors_not_invalid_parameters(
    emu: Emulator, session: OAuth1Session, margin_key: str, body: dict[str, object], message: str
) -> None:
    response = preview(session, emu, margin_key, body)
    assert error_of(response) == (400, 9005)
    assert response.json()["Error"]["message"] == message


def test_an_unknown_price_type_is_still_an_invalid_parameter(
    emu: Emulator, session: OAuth1Session, margin_key: str
) -> None:
    assert error_of(preview(session, emu, margin_key, order_body(price_type="WHATEVER"))) == (400, 9001)


def test_a_trailing_stop_follows_the_price_and_fires_on_the_pullback(
    emu: Emulator, session: OAuth1Session, margin_key: str
) -> None:
    # A sell trailing stop with a trail wider than any move: it never fires; a tiny one fires as
    # soon as the price comes back from its best by that much.
    held = preview_and_place(session, emu, margin_key, order_body("KO", "BUY", 5, "MARKET", client_order_id="buy"))
    emu.clock.advance(timedelta(seconds=5))
    assert detail(session, emu, margin_key, held)["status"] == "EXECUTED"
    wide = preview_and_place(
        session, emu, margin_key, order_body("KO", "SELL", 1, "TRAILING_STOP_PRCT", stop="50", client_order_id="w")
    )
    tight = preview_and_place(
        session, emu, margin_key, order_body("KO", "SELL", 1, "TRAILING_STOP_CNST", stop="0.01", client_order_id="t")
    )
    statuses = set()
    for _ in range(40):
        later(emu, session, timedelta(minutes=5))
        statuses.add(detail(session, emu, margin_key, tight)["status"])
        if "EXECUTED" in statuses:
            break
    assert "EXECUTED" in statuses
    assert detail(session, emu, margin_key, wide)["status"] == "OPEN"
    order = emu.orders.order(margin_key, tight)
    assert order.trail_mark is not None and order.average_price is not None
    assert order.average_price <= order.trail_mark  # sold below the best price it trailed


def test_on_open_and_on_close_orders_fill_at_the_auction_prices(emu: Emulator) -> None:
    emu.clock.set(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))  # 08:00 EDT, pre-market
    session = login(emu)
    key = open_account_key(session, emu, "MARGIN")
    on_open = preview_and_place(session, emu, key, order_body("KO", "BUY", 1, "MARKET_ON_OPEN", client_order_id="o"))
    on_close = preview_and_place(session, emu, key, order_body("KO", "BUY", 1, "MARKET_ON_CLOSE", client_order_id="c"))
    later(emu, session, timedelta(minutes=90))  # 09:30 EDT
    later(emu, session, timedelta(minutes=60))  # 10:30 EDT
    assert detail(session, emu, key, on_open)["status"] == "EXECUTED"
    opened = emu.orders.order(key, on_open)
    assert opened.average_price == emu.market.observe("KO", emu.clock.now()).open
    assert detail(session, emu, key, on_close)["status"] == "OPEN"  # waits for the close
    for _ in range(3):
        later(emu, session, timedelta(minutes=110))
    later(emu, session, timedelta(minutes=10))  # 16:00 EDT and after
    assert detail(session, emu, key, on_close)["status"] == "EXECUTED"
    closed = emu.orders.order(key, on_close)
    assert closed.executed_at == datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
    assert closed.average_price == emu.market.observe("KO", emu.clock.now()).last  # the close
    session.close()
