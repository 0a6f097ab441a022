"""Orders API: preview, place (PreviewIds, error 101), fills on the emulator clock, cancel, list, change, holds."""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

import pytest
import requests
from rauth import OAuth1Session

from emulator import Emulator
from tests.emulator.conftest import HTTP_TIMEOUT, admin, get, open_account_key


def order_body(
    symbol: str = "AAPL",
    action: str = "BUY",
    quantity: int | str = 1,
    price_type: str = "MARKET",
    *,
    limit: str = "",
    stop: str = "",
    term: str = "GOOD_FOR_DAY",
    session: str = "REGULAR",
    client_order_id: str = "abc123",
) -> dict[str, Any]:
    """The JSON form used in production (reference §3.6)."""
    return {
        "orderType": "EQ",
        "clientOrderId": client_order_id,
        "Order": [
            {
                "allOrNone": "false",
                "priceType": price_type,
                "orderTerm": term,
                "marketSession": session,
                "stopPrice": stop,
                "limitPrice": limit,
                "Instrument": [
                    {
                        "Product": {"securityType": "EQ", "symbol": symbol},
                        "orderAction": action,
                        "quantityType": "QUANTITY",
                        "quantity": str(quantity),
                    }
                ],
            }
        ],
    }


def send(
    session: OAuth1Session, emu: Emulator, method: str, path: str, root: str, content: dict[str, Any]
) -> requests.Response:
    response: requests.Response = session.request(
        method,
        f"{emu.base_url}{path}",
        header_auth=True,
        params={},
        data=json.dumps({root: content}),
        headers={"Content-Type": "application/json"},
        timeout=HTTP_TIMEOUT,
    )
    return response


def preview(session: OAuth1Session, emu: Emulator, key: str, content: dict[str, Any]) -> requests.Response:
    return send(session, emu, "POST", f"/v1/accounts/{key}/orders/preview.json", "PreviewOrderRequest", content)


def place(
    session: OAuth1Session, emu: Emulator, key: str, content: dict[str, Any], preview_id: int
) -> requests.Response:
    body = {**content, "PreviewIds": [{"previewId": preview_id}]}
    return send(session, emu, "POST", f"/v1/accounts/{key}/orders/place.json", "PlaceOrderRequest", body)


def preview_and_place(session: OAuth1Session, emu: Emulator, key: str, content: dict[str, Any]) -> int:
    previewed = preview(session, emu, key, content)
    assert previewed.status_code == 200, previewed.text
    preview_id = previewed.json()["PreviewOrderResponse"]["PreviewIds"][0]["previewId"]
    placed = place(session, emu, key, content, preview_id)
    assert placed.status_code == 200, placed.text
    order_id: int = placed.json()["PlaceOrderResponse"]["OrderIds"][0]["orderId"]
    return order_id


def later(emu: Emulator, session: OAuth1Session, delta: timedelta) -> None:
    """Move the emulator clock; renew the token that went idle on the way (2-hour rule)."""
    emu.clock.advance(delta)
    renewed = session.get(f"{emu.base_url}/oauth/renew_access_token", params={}, header_auth=True)
    assert renewed.status_code == 200, renewed.text


def error_of(response: requests.Response) -> tuple[int, int]:
    return response.status_code, response.json()["Error"]["code"]


def detail(session: OAuth1Session, emu: Emulator, key: str, order_id: int) -> dict[str, Any]:
    response = get(session, emu, f"/v1/accounts/{key}/orders/{order_id}.json")
    assert response.status_code == 200, response.text
    [order] = response.json()["OrdersResponse"]["Order"]
    assert order["orderId"] == order_id
    found: dict[str, Any] = order["OrderDetail"][0]
    return found


def position_quantity(emu: Emulator, key: str, symbol: str) -> float:
    account = emu.book.account(key)
    assert account is not None
    position = account.position_for(symbol)
    return position.quantity if position is not None else 0.0


@pytest.fixture
def margin_key(emu: Emulator, session: OAuth1Session) -> str:
    return open_account_key(session, emu, "MARGIN")


@pytest.fixture
def cash_key(emu: Emulator, session: OAuth1Session) -> str:
    return open_account_key(session, emu, "CASH")


# -- preview ----------------------------------------------------------------------------------


def test_preview_returns_estimates_and_a_preview_id(emu: Emulator, session: OAuth1Session, margin_key: str) -> None:
    response = preview(session, emu, margin_key, order_body("MSFT", quantity=3, price_type="LIMIT", limit="400.00"))
    assert response.status_code == 200, response.text
    body = response.json()["PreviewOrderResponse"]
    [preview_id] = body["PreviewIds"]
    assert preview_id["previewId"] >= 10**10
    [order] = body["Order"]
    assert order["priceType"] == "LIMIT" and order["limitPrice"] == 400.0
    assert order["estimatedCommission"] == 0.0
    assert order["estimatedTotalAmount"] == 1200.0 == body["totalOrderValue"]
    assert order["Instrument"][0]["Product"] == {"symbol": "MSFT", "securityType": "EQ"}
    assert body["marginBpDetails"]["marginable"]["currentOrderImpact"] == 1200.0
    assert body["marginLevelCd"] == "MARGIN_TRADING_ALLOWED"


def test_preview_outside_the_session_carries_a_message(emu: Emulator, session: OAuth1Session, margin_key: str) -> None:
    later(emu, session, timedelta(hours=8))  # 19:00 ET
    response = preview(session, emu, margin_key, order_body("MSFT"))
    [order] = response.json()["PreviewOrderResponse"]["Order"]
    [message] = order["messages"]["Message"]
    assert message["type"] == "WARNING" and "next market session" in message["description"]


def test_insufficient_funds_blocks_the_preview(emu: Emulator, session: OAuth1Session, cash_key: str) -> None:
    response = preview(session, emu, cash_key, order_body("BKNG", quantity=500))
    assert error_of(response) == (400, 1021)
    assert "insufficient funds" in response.json()["Error"]["message"]


def test_selling_more_than_held_is_refused(emu: Emulator, session: OAuth1Session, cash_key: str) -> None:
    account = emu.book.account(cash_key)
    assert account is not None
    held = next(iter(account.positions.values()))
    response = preview(session, emu, cash_key, order_body(held.symbol, "SELL", int(held.quantity) + 1))
    assert error_of(response) == (400, 1037)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (order_body("ZZZZQ"), 1019),
        (order_body(price_type="LIMIT"), 9005),  # no limit price
        (order_body(price_type="STOP_LIMIT", limit="10"), 9005),  # no stop price
        (order_body(price_type="MARKET", term="FILL_OR_KILL"), 9005),
        (order_body(price_type="MARKET", session="EXTENDED"), 9005),
        (order_body(quantity="1.5"), 9001),
        (order_body(quantity=0), 9001),
        (order_body(client_order_id="not-alnum!"), 9001),
        (order_body(action="EXCHANGE"), 9001),
    ],
)
def test_invalid_previews_are_400(
    emu: Emulator, session: OAuth1Session, margin_key: str, body: dict[str, Any], code: int
) -> None:
    assert error_of(preview(session, emu, margin_key, body)) == (400, code)


def test_short_sales_need_a_margin_account(emu: Emulator, session: OAuth1Session, cash_key: str) -> None:
    assert error_of(preview(session, emu, cash_key, order_body("T", "SELL_SHORT"))) == (400, 9003)


def test_unknown_and_malformed_account_keys(emu: Emulator, session: OAuth1Session) -> None:
    assert error_of(preview(session, emu, "A" * 22, order_body())) == (400, 100)
    assert error_of(preview(session, emu, "short", order_body())) == (400, 102)


# -- place ------------------------------------------------------------------------------------


def test_place_requires_the_same_order_and_its_preview(emu: Emulator, session: OAuth1Session, margin_key: str) -> None:
    content = order_body("KO", quantity=2, client_order_id="c1")
    preview_id = preview(session, emu, margin_key, content).json()["PreviewOrderResponse"]["PreviewIds"][0]["previewId"]

    changed = order_body("KO", quantity=3, client_order_id="c1")
    assert error_of(place(session, emu, margin_key, changed, preview_id)) == (400, 101)
    other_id = order_body("KO", quantity=2, client_order_id="c2")
    assert error_of(place(session, emu, margin_key, other_id, preview_id)) == (400, 101)
    no_ids = send(session, emu, "POST", f"/v1/accounts/{margin_key}/orders/place.json", "PlaceOrderRequest", content)
    assert error_of(no_ids) == (400, 101)
    assert "timed out your original order request" in no_ids.json()["Error"]["message"]

    placed = place(session, emu, margin_key, content, preview_id)
    assert placed.status_code == 200, placed.text
    body = placed.json()["PlaceOrderResponse"]
    [order_id] = body["OrderIds"]
    message = body["Order"][0]["messages"]["Message"][0]
    assert message["code"] == 1026 and "successfully entered" in message["description"]
    assert "clientOrderId" not in json.dumps(body)  # E*TRADE never echoes it (§3.6)

    # The same preview cannot make a second order.
    assert error_of(place(session, emu, margin_key, content, preview_id)) == (400, 101)
    assert [o.order_id for o in emu.orders.orders(margin_key)] == [order_id["orderId"]]


def test_a_preview_lapses_after_thirty_minutes(emu: Emulator, session: OAuth1Session, margin_key: str) -> None:
    content = order_body("KO")
    preview_id = preview(session, emu, margin_key, content).json()["PreviewOrderResponse"]["PreviewIds"][0]["previewId"]
    emu.clock.advance(timedelta(minutes=31))
    assert error_of(place(session, emu, margin_key, content, preview_id)) == (400, 101)


def test_xml_bodies_are_accepted(emu: Emulator, session: OAuth1Session, margin_key: str) -> None:
    xml = (
        "<PreviewOrderRequest><orderType>EQ</orderType><clientOrderId>x1</clientOrderId>"
        "<Order><allOrNone>false</allOrNone><priceType>LIMIT</priceType><orderTerm>GOOD_FOR_DAY</orderTerm>"
        "<marketSession>REGULAR</marketSession><stopPrice></stopPrice><limitPrice>50.00</limitPrice>"
        "<Instrument><Product><securityType>EQ</securityType><symbol>KO</symbol></Product>"
        "<orderAction>BUY</orderAction><quantityType>QUANTITY</quantityType><quantity>4</quantity></Instrument>"
        "</Order></PreviewOrderRequest>"
    )
    url = f"{emu.base_url}/v1/accounts/{margin_key}/orders/preview"
    headers = {"Content-Type": "application/xml"}
    previewed = session.request("POST", url, header_auth=True, params={}, data=xml, headers=headers)
    assert previewed.status_code == 200, previewed.text
    assert previewed.headers["Content-Type"].startswith("application/xml")
    preview_id = ET.fromstring(previewed.text).findtext("PreviewIds/previewId")
    assert preview_id is not None
    place_xml = xml.replace("PreviewOrderRequest>", "PlaceOrderRequest>").replace(
        "</Order>", f"</Order><PreviewIds><previewId>{preview_id}</previewId></PreviewIds>"
    )
    placed = session.request(
        "POST", url.replace("preview", "place.json"), header_auth=True, params={}, data=place_xml, headers=headers
    )
    assert placed.status_code == 200, placed.text
    assert placed.json()["PlaceOrderResponse"]["OrderIds"][0]["orderId"] > 0


# -- fills ------------------------------------------------------------------------------------


def test_a_market_buy_fills_at_the_next_price_and_moves_cash_and_shares(
    emu: Emulator, session: OAuth1Session, margin_key: str
) -> None:
    account = emu.book.account(margin_key)
    assert account is not None
    cash_before, shares_before = account.cash, position_quantity(emu, margin_key, "KO")
    order_id = preview_and_place(session, emu, margin_key, order_body("KO", quantity=10))
    assert detail(session, emu, margin_key, order_id)["status"] == "OPEN"  # the clock stands still

    emu.clock.advance(timedelta(seconds=30))
    filled = detail(session, emu, margin_key, order_id)
    assert filled["status"] == "EXECUTED"
    leg = filled["Instrument"][0]
    price = leg["averageExecutionPrice"]
    assert leg["filledQuantity"] == 10.0 and price > 0
    assert filled["executedTime"] > filled["placedTime"]
    assert position_quantity(emu, margin_key, "KO") == shares_before + 10
    assert account.cash == pytest.approx(cash_before - 10 * price, abs=0.01)


def test_limit_and_stop_orders_wait_until_crossed(emu: Emulator, session: OAuth1Session, margin_key: str) -> None:
    last = emu.market.observe("KO", emu.clock.now()).last
    far_limit = f"{last * 0.5:.2f}"
    resting = preview_and_place(session, emu, margin_key, order_body("KO", price_type="LIMIT", limit=far_limit))
    marketable = preview_and_place(
        session, emu, margin_key, order_body("KO", price_type="LIMIT", limit=f"{last * 1.1:.2f}", client_order_id="b")
    )
    far_stop = preview_and_place(
        session, emu, margin_key, order_body("KO", price_type="STOP", stop=f"{last * 1.5:.2f}", client_order_id="c")
    )
    emu.clock.advance(timedelta(seconds=5))
    assert detail(session, emu, margin_key, marketable)["status"] == "EXECUTED"
    fill = detail(session, emu, margin_key, marketable)["Instrument"][0]["averageExecutionPrice"]
    assert fill <= last * 1.1  # price improvement: the ask, not the limit
    assert detail(session, emu, margin_key, resting)["status"] == "OPEN"
    assert detail(session, emu, margin_key, far_stop)["status"] == "OPEN"

    later(emu, session, timedelta(hours=6))  # past 16:00 ET: day orders expire
    assert detail(session, emu, margin_key, resting)["status"] == "EXPIRED"
    assert detail(session, emu, margin_key, far_stop)["status"] == "EXPIRED"


def test_a_sell_stop_above_the_market_triggers_and_fills_at_the_bid(
    emu: Emulator, session: OAuth1Session, cash_key: str
) -> None:
    account = emu.book.account(cash_key)
    assert account is not None
    held = next(iter(account.positions.values()))
    last = emu.market.observe(held.symbol, emu.clock.now()).last
    order_id = preview_and_place(
        session, emu, cash_key, order_body(held.symbol, "SELL", 1, "STOP", stop=f"{last * 1.2:.2f}")
    )
    emu.clock.advance(timedelta(seconds=5))
    filled = detail(session, emu, cash_key, order_id)
    assert filled["status"] == "EXECUTED"
    assert filled["Instrument"][0]["averageExecutionPrice"] == emu.market.observe(held.symbol, emu.clock.now()).bid


def test_immediate_or_cancel_fills_now_or_never(emu: Emulator, session: OAuth1Session, margin_key: str) -> None:
    last = emu.market.observe("KO", emu.clock.now()).last
    never = preview_and_place(
        session,
        emu,
        margin_key,
        order_body("KO", price_type="LIMIT", limit=f"{last * 0.5:.2f}", term="IMMEDIATE_OR_CANCEL"),
    )
    now = preview_and_place(
        session,
        emu,
        margin_key,
        order_body("KO", price_type="LIMIT", limit=f"{last * 1.1:.2f}", term="FILL_OR_KILL", client_order_id="k"),
    )
    assert detail(session, emu, margin_key, never)["status"] == "CANCELLED"
    assert detail(session, emu, margin_key, now)["status"] == "EXECUTED"


# -- cancel and change ------------------------------------------------------------------------


def test_cancel_is_requested_then_done(emu: Emulator, session: OAuth1Session, margin_key: str) -> None:
    last = emu.market.observe("KO", emu.clock.now()).last
    order_id = preview_and_place(
        session, emu, margin_key, order_body("KO", price_type="LIMIT", limit=f"{last / 2:.2f}")
    )
    path = f"/v1/accounts/{margin_key}/orders/cancel.json"
    response = send(session, emu, "PUT", path, "CancelOrderRequest", {"orderId": order_id})
    assert response.status_code == 200, response.text
    body = response.json()["CancelOrderResponse"]
    assert body["orderId"] == order_id
    assert body["Messages"]["Message"][0]["code"] == 4186
    assert detail(session, emu, margin_key, order_id)["status"] == "CANCEL_REQUESTED"
    emu.clock.advance(timedelta(seconds=1))
    assert detail(session, emu, margin_key, order_id)["status"] == "CANCELLED"
    again = send(session, emu, "PUT", path, "CancelOrderRequest", {"orderId": order_id})
    assert error_of(again) == (400, 5001)
    missing = send(session, emu, "PUT", path, "CancelOrderRequest", {"orderId": 1})
    assert error_of(missing) == (400, 9002)
    posted = send(session, emu, "POST", path, "CancelOrderRequest", {"orderId": order_id})
    assert posted.status_code == 405


def test_change_cancels_and_replaces(emu: Emulator, session: OAuth1Session, margin_key: str) -> None:
    last = emu.market.observe("KO", emu.clock.now()).last
    old = preview_and_place(session, emu, margin_key, order_body("KO", "BUY", 5, "LIMIT", limit=f"{last / 2:.2f}"))
    change = order_body("KO", "BUY", 6, "LIMIT", limit=f"{last / 2 + 1:.2f}", client_order_id="chg1")
    base = f"/v1/accounts/{margin_key}/orders/{old}/change"
    previewed = send(session, emu, "PUT", f"{base}/preview.json", "PreviewOrderRequest", change)
    assert previewed.status_code == 200, previewed.text
    preview_id = previewed.json()["PreviewOrderResponse"]["PreviewIds"][0]["previewId"]
    placed = send(
        session,
        emu,
        "PUT",
        f"{base}/place.json",
        "PlaceOrderRequest",
        {**change, "PreviewIds": [{"previewId": preview_id}]},
    )
    assert placed.status_code == 200, placed.text
    new = placed.json()["PlaceOrderResponse"]["OrderIds"][0]["orderId"]
    assert new != old
    assert detail(session, emu, margin_key, old)["status"] == "CANCELLED"
    assert detail(session, emu, margin_key, old)["replacedByOrderId"] == new
    assert detail(session, emu, margin_key, new)["replacesOrderId"] == old
    assert detail(session, emu, margin_key, new)["Instrument"][0]["orderedQuantity"] == 6


# -- list -------------------------------------------------------------------------------------


def test_list_filters_pages_and_answers_204_when_empty(emu: Emulator, session: OAuth1Session, margin_key: str) -> None:
    path = f"/v1/accounts/{margin_key}/orders.json"
    assert get(session, emu, path).status_code == 204
    last = emu.market.observe("KO", emu.clock.now()).last
    ids = [
        preview_and_place(
            session,
            emu,
            margin_key,
            order_body("KO", price_type="LIMIT", limit=f"{last / 2:.2f}", client_order_id=f"p{n}"),
        )
        for n in range(5)
    ]
    first = get(session, emu, path, count=2).json()["OrdersResponse"]
    assert [o["orderId"] for o in first["Order"]] == sorted(ids, reverse=True)[:2]
    assert first["marker"] and "marker=" in first["next"]
    second = get(session, emu, path, count=2, marker=first["marker"]).json()["OrdersResponse"]
    assert [o["orderId"] for o in second["Order"]] == sorted(ids, reverse=True)[2:4]

    assert get(session, emu, path, status="EXECUTED").status_code == 204
    assert len(get(session, emu, path, status="OPEN").json()["OrdersResponse"]["Order"]) == 5
    assert get(session, emu, path, symbol="MSFT").status_code == 204
    today = emu.clock.now().strftime("%m%d%Y")
    assert len(get(session, emu, path, fromDate=today, toDate=today).json()["OrdersResponse"]["Order"]) == 5
    assert error_of(get(session, emu, path, fromDate="2026-03-10", toDate=today)) == (400, 2004)
    assert get(session, emu, path, fromDate=today).status_code == 400
    assert error_of(get(session, emu, path, count=101)) == (400, 2005)


def test_orders_are_rate_limited_as_the_orders_module(emu: Emulator, session: OAuth1Session, margin_key: str) -> None:
    get(session, emu, f"/v1/accounts/{margin_key}/orders.json")
    assert emu.stats()["requests_by_module"].get("orders") == 1


# -- holds (crash-safety tests) ---------------------------------------------------------------


def test_a_held_place_records_the_order_before_answering(
    emu: Emulator, session: OAuth1Session, margin_key: str
) -> None:
    content = order_body("KO", client_order_id="held1")
    preview_id = preview(session, emu, margin_key, content).json()["PreviewOrderResponse"]["PreviewIds"][0]["previewId"]
    assert admin(emu, "POST", "/faults", {"match": "order_place", "hold": True, "count": 1}).status_code == 201
    answers: list[requests.Response] = []
    sender = threading.Thread(target=lambda: answers.append(place(session, emu, margin_key, content, preview_id)))
    sender.start()
    held = admin(emu, "GET", "/holds?wait=10").json()["holds"]
    assert [h["route"] for h in held] == ["order_place"]
    # The broker has acted; the client has not heard.
    orders = admin(emu, "GET", f"/orders?account={margin_key}").json()["orders"]
    assert [o["clientOrderId"] for o in orders] == ["held1"]
    assert answers == []
    assert admin(emu, "POST", "/holds/release", {}).json() == {"released": 1}
    sender.join(HTTP_TIMEOUT)
    assert answers[0].status_code == 200
    assert answers[0].json()["PlaceOrderResponse"]["OrderIds"][0]["orderId"] == orders[0]["orderId"]
    assert admin(emu, "GET", "/holds").json() == {"holds": []}


def test_hold_cannot_be_combined_with_drop(emu: Emulator) -> None:
    assert admin(emu, "POST", "/faults", {"match": "order_place", "hold": True, "drop": True}).status_code == 400
