"""Injected faults, latency, per-module rate limits and request statistics."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from rauth import OAuth1Session

from emulator import Emulator
from tests.emulator.conftest import HTTP_TIMEOUT, admin, get, login, make_emulator

RATE_LIMIT_TEXT = "Number of requests exceeded the rate limit set"


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- faults -------------------------------------------------------------------------------


def test_status_fault_n_times_then_normal(emu: Emulator, session: OAuth1Session) -> None:
    installed = admin(emu, "POST", "/faults", {"match": "accounts_list", "status": 500, "count": 2})
    assert installed.status_code == 201
    assert installed.json()["code"] == 100  # a 5xx without a code gets E*TRADE's "service unavailable"
    for _ in range(2):
        response = get(session, emu, "/v1/accounts/list.json")
        assert response.status_code == 500
        assert response.json() == {
            "Error": {
                "code": 100,
                "message": "The requested service is not currently available, please try after sometime.",
            }
        }
    assert get(session, emu, "/v1/accounts/list.json").status_code == 200
    assert admin(emu, "GET", "/faults").json()["faults"] == []
    assert emu.stats()["faults_injected"] == 2


def test_fault_error_follows_the_requested_format(emu: Emulator, session: OAuth1Session) -> None:
    admin(emu, "POST", "/faults", {"match": "accounts_list", "status": 500, "count": 1})
    response = get(session, emu, "/v1/accounts/list")
    assert response.status_code == 500
    assert "<Error><code>100</code><message>The requested service" in response.text


def test_path_prefix_fault_until_cleared(emu: Emulator, session: OAuth1Session) -> None:
    message = "Quote service is not available at this time, please try again later."
    admin(emu, "POST", "/faults", {"match": "/v1/market", "status": 500, "code": 163, "message": message})
    for path in ("/v1/market/quote/AAPL.json", "/v1/market/lookup/apple.json", "/v1/market/quote/IBM.json"):
        response = get(session, emu, path)
        assert response.status_code == 500
        assert response.json() == {"Error": {"code": 163, "message": message}}
    assert get(session, emu, "/v1/accounts/list.json").status_code == 200
    assert admin(emu, "DELETE", "/faults").json()["faults"] == []
    assert get(session, emu, "/v1/market/quote/AAPL.json").status_code == 200


def test_dropped_connection_fault(emu: Emulator, session: OAuth1Session) -> None:
    admin(emu, "POST", "/faults", {"match": "quote", "drop": True, "count": 1})
    with pytest.raises(requests.exceptions.ConnectionError):
        get(session, emu, "/v1/market/quote/AAPL.json")
    assert get(session, emu, "/v1/market/quote/AAPL.json").status_code == 200


def test_latency_fault_delays_the_answer(emu: Emulator, session: OAuth1Session) -> None:
    admin(emu, "POST", "/faults", {"match": "quote", "latency_ms": 5000, "count": 1})
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.get(f"{emu.base_url}/v1/market/quote/AAPL.json", params={}, header_auth=True, timeout=0.5)
    assert get(session, emu, "/v1/market/quote/AAPL.json").status_code == 200


def test_configured_latency_applies_to_the_api_but_not_to_admin(emu: Emulator, session: OAuth1Session) -> None:
    config = admin(emu, "POST", "/config", {"latency_ms": [8000, 8000]})
    assert config.json()["latency_ms"] == [8000, 8000]
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.get(f"{emu.base_url}/v1/accounts/list.json", params={}, header_auth=True, timeout=0.5)
    # Far less than the 8 s latency: the admin interface is never delayed.
    assert requests.get(f"{emu.base_url}/_emulator/health", timeout=4).status_code == 200
    admin(emu, "POST", "/config", {"latency_ms": 0})
    assert get(session, emu, "/v1/accounts/list.json").status_code == 200


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"match": "quote"},
        {"match": "quote", "status": 99},
        {"match": "quote", "latency_ms": -1},
        {"match": "quote", "drop": "yes"},
        {"match": "quote", "status": 500, "colour": "red"},
        {"clock_skew_seconds": "lots"},
        {"clock_skew_seconds": 10, "match": "quote"},
    ],
)
def test_bad_fault_specs_are_refused(emu: Emulator, spec: dict[str, object]) -> None:
    response = admin(emu, "POST", "/faults", spec)
    assert response.status_code == 400
    assert "error" in response.json()


def test_admin_rejects_bad_json_and_unknown_endpoints(emu: Emulator) -> None:
    bad = requests.post(f"{emu.base_url}/_emulator/faults", data=b"{nope", timeout=HTTP_TIMEOUT)
    assert bad.status_code == 400
    assert admin(emu, "GET", "/nothing").status_code == 404
    assert admin(emu, "PUT", "/clock").status_code == 405
    assert admin(emu, "POST", "/clock", {"set": "2026-03-10T10:00:00"}).status_code == 400  # no offset
    assert admin(emu, "POST", "/config", {"rate_limits": {"market": -1}}).status_code == 400


def test_admin_clock(emu: Emulator) -> None:
    moved = admin(emu, "POST", "/clock", {"set": "2026-11-01T01:30:00-04:00", "advance_seconds": 3600})
    assert moved.status_code == 200
    body = moved.json()
    assert body["now"] == "2026-11-01T06:30:00+00:00"
    assert body["now_eastern"] == "2026-11-01T01:30:00-05:00"  # the second 01:30, after the change
    assert body["frozen"] is True
    assert admin(emu, "POST", "/clock", {"freeze": False}).json()["frozen"] is False
    assert emu.clock.frozen is False


# -- rate limits --------------------------------------------------------------------------


@pytest.fixture
def limited() -> Iterator[tuple[Emulator, FakeMonotonic]]:
    fake = FakeMonotonic()
    with make_emulator(rate_limits={"market": 4, "accounts": 2}, monotonic=fake) as emu:
        yield emu, fake


def test_rate_limit_refuses_with_the_documented_page_and_recovers(limited: tuple[Emulator, FakeMonotonic]) -> None:
    emu, fake = limited
    session = login(emu)
    try:
        statuses = [get(session, emu, "/v1/market/quote/AAPL,MSFT,SPY.json").status_code for _ in range(4)]
        assert statuses == [200] * 4
        refused = get(session, emu, "/v1/market/quote/AAPL.json")
        assert refused.status_code == 400
        assert refused.headers["Content-Type"].startswith("text/html")
        assert RATE_LIMIT_TEXT in refused.text
        # Other modules have their own budget.
        assert [get(session, emu, "/v1/accounts/list.json").status_code for _ in range(3)] == [200, 200, 400]
        fake.now += 1.0
        assert get(session, emu, "/v1/market/quote/AAPL.json").status_code == 200
        assert get(session, emu, "/v1/accounts/list.json").status_code == 200
        stats = emu.stats()
        assert stats["rate_limited_by_module"] == {"market": 1, "accounts": 1}
        assert stats["rate_limits"] == {"market": 4.0, "accounts": 2.0}
    finally:
        session.close()


def test_rate_limits_are_per_consumer_key() -> None:
    fake = FakeMonotonic()
    other = ("otherconsumerkey0000000000000001", "othersecret")
    with make_emulator(rate_limits={"market": 1}, monotonic=fake, consumers=dict([other])) as emu:
        first, second = login(emu), login(emu, *other)
        try:
            assert get(first, emu, "/v1/market/quote/AAPL.json").status_code == 200
            assert get(first, emu, "/v1/market/quote/AAPL.json").status_code == 400
            assert get(second, emu, "/v1/market/quote/AAPL.json").status_code == 200
        finally:
            first.close()
            second.close()


def test_real_time_rate_limit_with_defaults() -> None:
    with make_emulator(rate_limits={"market": 4, "accounts": 2, "orders": 2}) as emu:
        session = login(emu)
        try:
            statuses = [get(session, emu, "/v1/market/quote/AAPL.json").status_code for _ in range(40)]
            assert 400 in statuses, "40 back-to-back quotes must exceed 4 per second"
            assert statuses[:4] == [200] * 4
            # Recovery on real time: a bounded wait, never a fixed sleep.
            assert _eventually_ok(session, emu)
        finally:
            session.close()


def _eventually_ok(session: OAuth1Session, emu: Emulator, attempts: int = 200) -> bool:
    for _ in range(attempts):
        if get(session, emu, "/v1/market/quote/AAPL.json").status_code == 200:
            return True
        requests.get(f"{emu.base_url}/_emulator/health", timeout=HTTP_TIMEOUT)  # paces the loop
    return False


def test_rate_limits_can_be_changed_at_run_time(limited: tuple[Emulator, FakeMonotonic]) -> None:
    emu, _ = limited
    session = login(emu)
    try:
        assert admin(emu, "POST", "/config", {"rate_limits": None}).json()["rate_limits"] is None
        assert all(get(session, emu, "/v1/accounts/list.json").status_code == 200 for _ in range(5))
        emu.configure(rate_limits={"accounts": 1})
        assert [get(session, emu, "/v1/accounts/list.json").status_code for _ in range(2)] == [200, 400]
    finally:
        session.close()


# -- statistics ---------------------------------------------------------------------------


def test_stats_count_routes_modules_statuses_and_failures(emu: Emulator, session: OAuth1Session) -> None:
    admin(emu, "POST", "/stats/reset")
    get(session, emu, "/v1/accounts/list.json")
    get(session, emu, "/v1/market/quote/AAPL,MSFT,IBM.json")
    get(session, emu, "/v1/market/quote/NOTREAL.json")
    get(session, emu, "/v1/market/lookup/apple.json")
    get(session, emu, "/v1/nothing/here.json")
    requests.get(f"{emu.base_url}/v1/accounts/list.json", timeout=HTTP_TIMEOUT)  # unsigned
    admin(emu, "GET", "/health")  # admin calls are not counted
    stats = admin(emu, "GET", "/stats").json()
    assert stats == emu.stats()
    assert stats["requests_total"] == 6
    assert stats["requests_by_route"] == {"accounts_list": 2, "quote": 2, "lookup": 1, "unknown": 1}
    assert stats["requests_by_module"] == {"accounts": 2, "market": 3}
    assert stats["responses_by_status"] == {"200": 3, "400": 1, "404": 1, "401": 1}
    assert stats["oauth_failures_by_problem"] == {"parameter_absent": 1}
    assert stats["latency_ms"] == [0, 0] and stats["rate_limits"] is None
    reset = admin(emu, "POST", "/stats/reset").json()
    assert reset["requests_total"] == 0 and reset["requests_by_route"] == {}
    assert emu.stats()["requests_total"] == 0


def test_stats_name_every_oauth_route(emu: Emulator) -> None:
    session = login(emu)
    try:
        get(session, emu, "/oauth/renew_access_token")
        get(session, emu, "/oauth/revoke_access_token")
    finally:
        session.close()
    routes = emu.stats()["requests_by_route"]
    assert routes == {
        "request_token": 1,
        "authorize": 1,
        "access_token": 1,
        "renew_access_token": 1,
        "revoke_access_token": 1,
    }
