"""Alerts API at the emulator: list filters, details with and without HTML, delete of comma-separated
ids, the empty inbox's 404/53, and execution notices from fills (reference §2.4, §3.10)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import requests
from rauth import OAuth1Session

from emulator import Emulator
from tests.emulator.conftest import HTTP_TIMEOUT, get, open_account_key
from tests.emulator.test_orders import later, order_body, preview_and_place


def alerts(session: OAuth1Session, emu: Emulator, **params: Any) -> requests.Response:
    return get(session, emu, "/v1/user/alerts.json", **params)


def delete(session: OAuth1Session, emu: Emulator, ids: str) -> requests.Response:
    response: requests.Response = session.delete(
        f"{emu.base_url}/v1/user/alerts/{ids}.json", params={}, header_auth=True, timeout=HTTP_TIMEOUT
    )
    return response


def test_list_shape_and_default_order(emu: Emulator, session: OAuth1Session) -> None:
    response = alerts(session, emu)
    assert response.status_code == 200
    body = response.json()["AlertsResponse"]
    rows = body["Alert"]
    assert body["totalAlerts"] == len(rows) == len(emu.alerts.alerts())
    assert set(rows[0]) == {"id", "createTime", "subject", "status"}
    times = [row["createTime"] for row in rows]
    assert times == sorted(times, reverse=True)  # DESC by default
    ascending = alerts(session, emu, direction="ASC").json()["AlertsResponse"]["Alert"]
    assert [row["id"] for row in ascending] == [row["id"] for row in reversed(rows)]
    assert {row["status"] for row in rows} == {"READ", "UNREAD"}


def test_filters_category_status_search_and_count(emu: Emulator, session: OAuth1Session) -> None:
    stock = alerts(session, emu, category="STOCK").json()["AlertsResponse"]["Alert"]
    account = alerts(session, emu, category="account").json()["AlertsResponse"]["Alert"]
    assert stock and account
    assert {row["id"] for row in stock}.isdisjoint({row["id"] for row in account})
    unread = alerts(session, emu, status="UNREAD").json()["AlertsResponse"]["Alert"]
    assert unread and {row["status"] for row in unread} == {"UNREAD"}
    found = alerts(session, emu, search="STATEMENT").json()["AlertsResponse"]["Alert"]
    assert [row["subject"] for row in found] == ["Your monthly statement is ready"]
    two = alerts(session, emu, count="2").json()["AlertsResponse"]
    assert len(two["Alert"]) == 2 and two["totalAlerts"] > 2
    for bad in ({"count": "301"}, {"count": "0"}, {"category": "BOND"}, {"direction": "UP"}):
        assert alerts(session, emu, **bad).status_code == 400, bad


def test_details_strip_html_unless_asked_and_mark_read(emu: Emulator, session: OAuth1Session) -> None:
    unread = alerts(session, emu, status="UNREAD", category="STOCK").json()["AlertsResponse"]["Alert"][0]
    plain = get(session, emu, f"/v1/user/alerts/{unread['id']}.json").json()["AlertDetailsResponse"]
    assert plain["id"] == unread["id"] and plain["subject"] == unread["subject"]
    assert "<" not in plain["msgText"] and "price alert" in plain["msgText"]
    assert plain["symbol"] and plain["readTime"] > 0 and plain["deleteTime"] == 0
    assert "next" in plain or "prev" in plain
    with_tags = get(session, emu, f"/v1/user/alerts/{unread['id']}.json", htmlTags="true").json()
    assert "<b>" in with_tags["AlertDetailsResponse"]["msgText"]
    # pyetrade's form: .json right after the collection.
    mid_path = get(session, emu, f"/v1/user/alerts.json/{unread['id']}")
    assert mid_path.status_code == 200 and mid_path.json()["AlertDetailsResponse"]["id"] == unread["id"]
    now_read = alerts(session, emu, status="READ").json()["AlertsResponse"]["Alert"]
    assert unread["id"] in {row["id"] for row in now_read}


def test_detail_errors_are_the_documented_ones(emu: Emulator, session: OAuth1Session) -> None:
    zero = get(session, emu, "/v1/user/alerts/0.json")
    assert (zero.status_code, zero.json()["Error"]["code"]) == (400, 499)
    missing = get(session, emu, "/v1/user/alerts/999999.json")
    assert (missing.status_code, missing.json()["Error"]["code"]) == (500, 11)
    assert missing.json()["Error"]["message"] == "Requested alert does not exist."


def test_delete_comma_separated_ids(emu: Emulator, session: OAuth1Session) -> None:
    rows = alerts(session, emu).json()["AlertsResponse"]["Alert"]
    first, second = rows[0]["id"], rows[1]["id"]
    deleted = delete(session, emu, f"{first},{second}")
    assert deleted.status_code == 200
    assert deleted.json()["AlertsResponse"] == {"result": "SUCCESS"}
    remaining = {row["id"] for row in alerts(session, emu).json()["AlertsResponse"]["Alert"]}
    assert first not in remaining and second not in remaining
    gone = alerts(session, emu, status="DELETED").json()["AlertsResponse"]["Alert"]
    assert {row["id"] for row in gone} == {first, second}
    again = delete(session, emu, f"{first},424242")
    assert again.json()["AlertsResponse"] == {"result": "ERROR", "failedAlerts": {"alertId": [first, 424242]}}
    assert delete(session, emu, "1;2").status_code == 400
    third = rows[2]["id"]
    mid_path: requests.Response = session.delete(
        f"{emu.base_url}/v1/user/alerts.json/{third}", params={}, header_auth=True, timeout=HTTP_TIMEOUT
    )
    assert mid_path.json()["AlertsResponse"] == {"result": "SUCCESS"}  # pyetrade's URL shape
    assert get(session, emu, "/v1/user/alerts/1,2.json").status_code == 405  # delete only


def test_an_empty_inbox_is_404_code_53(emu: Emulator, session: OAuth1Session) -> None:
    emu.alerts.clear()
    response = alerts(session, emu)
    assert response.status_code == 404
    assert response.json()["Error"] == {"code": 53, "message": "There are currently no alerts in your inbox."}
    xml = get(session, emu, "/v1/user/alerts")
    assert xml.status_code == 404 and "<code>53</code>" in xml.text


def test_a_fill_posts_an_execution_alert(emu: Emulator, session: OAuth1Session) -> None:
    key = open_account_key(session, emu)
    order_id = preview_and_place(session, emu, key, order_body("MSFT", "BUY", 2, client_order_id="alert1"))
    later(emu, session, timedelta(minutes=1))
    newest = alerts(session, emu).json()["AlertsResponse"]["Alert"][0]
    assert newest["subject"] == "Order executed: bought 2 MSFT"
    details = get(session, emu, f"/v1/user/alerts/{newest['id']}.json").json()["AlertDetailsResponse"]
    assert f"#{order_id}" in details["msgText"] and details["symbol"] == "MSFT"
