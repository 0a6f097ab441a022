"""OAuth 1.0a exactly as E*TRADE runs it: the dance, every oauth_problem, and token lifetime."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import pytest
import requests
from oauthlib.oauth1 import SIGNATURE_PLAINTEXT, Client
from rauth import OAuth1Session

from emulator import DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET, Emulator
from tests.emulator.conftest import (
    HTTP_TIMEOUT,
    admin,
    get,
    login,
    make_emulator,
    request_token,
    service_for,
    verifier_from_page,
)


def problem(response: requests.Response) -> str:
    found = re.search(r"oauth_problem=([a-z_]+)", response.text)
    assert found is not None, response.text
    return found.group(1)


def renew(session: OAuth1Session, emu: Emulator) -> requests.Response:
    return get(session, emu, "/oauth/renew_access_token")


def revoke(session: OAuth1Session, emu: Emulator) -> requests.Response:
    return get(session, emu, "/oauth/revoke_access_token")


def accounts_status(session: OAuth1Session, emu: Emulator) -> int:
    return get(session, emu, "/v1/accounts/list.json").status_code


# -- the dance ----------------------------------------------------------------------------


def test_full_dance_request_token_authorize_page_access_token_rest_call(emu: Emulator) -> None:
    service = service_for(emu)
    raw = service.get_raw_request_token(params={"oauth_callback": "oob"}, header_auth=True)
    assert raw.status_code == 200
    fields = dict(parse_qsl(raw.text))
    assert set(fields) == {"oauth_token", "oauth_token_secret", "oauth_callback_confirmed"}
    # Tokens are base64 and arrive URL-encoded, as E*TRADE sends them.
    assert "%3D" in raw.text
    assert all(part.count("=") == 1 for part in raw.text.split("&"))
    token, secret = fields["oauth_token"], fields["oauth_token_secret"]
    assert len(token) == 44 and token.endswith("=")

    verifier = verifier_from_page(emu, emu.consumer_key, token)
    assert re.fullmatch(r"[A-Z0-9]{5}", verifier)
    assert emu.pending_verifier(token) == verifier

    session = service.get_auth_session(token, secret, params={"oauth_verifier": verifier}, header_auth=True)
    try:
        assert emu.pending_verifier(token) is None  # exchanged: no longer pending
        response = get(session, emu, "/v1/accounts/list.json")
        assert response.status_code == 200
        assert "AccountListResponse" in response.json()
    finally:
        session.close()


def test_login_without_a_browser_through_the_admin_authorizations(emu: Emulator) -> None:
    service = service_for(emu)
    token, secret = request_token(service)
    pending = admin(emu, "GET", "/authorizations").json()["authorizations"]
    [entry] = [a for a in pending if a["request_token"] == token]
    assert entry["consumer_key"] == emu.consumer_key
    session = service.get_auth_session(token, secret, params={"oauth_verifier": entry["verifier"]}, header_auth=True)
    try:
        assert accounts_status(session, emu) == 200
        assert admin(emu, "GET", "/authorizations").json()["authorizations"] == []
    finally:
        session.close()


def test_extra_consumers_are_accepted() -> None:
    with make_emulator(consumers={"otherconsumerkey0000000000000001": "othersecret"}) as emu:
        session = login(emu, "otherconsumerkey0000000000000001", "othersecret")
        try:
            assert accounts_status(session, emu) == 200
        finally:
            session.close()


# -- request token problems ---------------------------------------------------------------


def test_wrong_consumer_secret_is_signature_invalid(emu: Emulator) -> None:
    service = service_for(emu, consumer_secret="not-the-secret")
    response = service.get_raw_request_token(params={"oauth_callback": "oob"}, header_auth=True)
    assert response.status_code == 401
    assert problem(response) == "signature_invalid"
    assert response.headers["Content-Type"].startswith("text/html")
    assert emu.stats()["oauth_failures_by_problem"] == {"signature_invalid": 1}


def test_unknown_consumer_key_is_rejected(emu: Emulator) -> None:
    service = service_for(emu, consumer_key="0123456789abcdef0123456789abcdef")
    response = service.get_raw_request_token(params={"oauth_callback": "oob"}, header_auth=True)
    assert response.status_code == 401
    assert problem(response) == "consumer_key_rejected"


def test_callback_other_than_oob_is_rejected_with_400(emu: Emulator) -> None:
    response = service_for(emu).get_raw_request_token(
        params={"oauth_callback": "https://example.com/cb"}, header_auth=True
    )
    assert response.status_code == 400
    assert "oauth_problem=callback_rejected,oauth_acceptable_callback=oob" in response.text


def test_missing_callback_is_parameter_absent(emu: Emulator) -> None:
    response = service_for(emu).get_raw_request_token(params={}, header_auth=True)
    assert response.status_code == 401
    assert "oauth_problem=parameter_absent,oauth_parameters_absent=oauth_callback" in response.text


def test_replayed_nonce_is_refused(emu: Emulator, session: OAuth1Session) -> None:
    first = get(session, emu, "/v1/accounts/list.json")
    assert first.status_code == 200
    replay = requests.get(
        str(first.request.url), headers={"Authorization": first.request.headers["Authorization"]}, timeout=HTTP_TIMEOUT
    )
    assert replay.status_code == 401
    assert replay.json() == {"Error": {"message": "oauth_problem=nonce_used"}}


def test_timestamp_outside_five_minutes_of_real_time_is_refused(emu: Emulator) -> None:
    skewed = int(time.time()) - 1000
    client = Client(emu.consumer_key, client_secret=emu.consumer_secret, callback_uri="oob", timestamp=str(skewed))
    uri, headers, _ = client.sign(f"{emu.base_url}/oauth/request_token")
    response = requests.get(uri, headers=headers, timeout=HTTP_TIMEOUT)
    assert response.status_code == 401
    found = re.search(r"oauth_problem=timestamp_refused,oauth_acceptable_timestamps=(\d+)-(\d+)", response.text)
    assert found is not None, response.text
    low, high = int(found.group(1)), int(found.group(2))
    assert high - low == 600
    assert skewed < low


def test_timestamp_window_ignores_the_emulator_clock(emu: Emulator) -> None:
    # Tests move the emulator clock by days; clients keep signing with real time and must pass.
    emu.clock.advance(timedelta(days=3))
    session = login(emu)
    try:
        assert accounts_status(session, emu) == 200
    finally:
        session.close()


def test_clock_skew_fault_makes_correct_clients_fail_until_cleared(emu: Emulator) -> None:
    assert admin(emu, "POST", "/faults", {"clock_skew_seconds": 900}).status_code == 201
    service = service_for(emu)
    response = service.get_raw_request_token(params={"oauth_callback": "oob"}, header_auth=True)
    assert response.status_code == 401
    assert problem(response) == "timestamp_refused"
    admin(emu, "DELETE", "/faults")
    assert service.get_raw_request_token(params={"oauth_callback": "oob"}, header_auth=True).status_code == 200


def test_only_hmac_sha1_is_accepted(emu: Emulator) -> None:
    client = Client(
        emu.consumer_key, client_secret=emu.consumer_secret, callback_uri="oob", signature_method=SIGNATURE_PLAINTEXT
    )
    uri, headers, _ = client.sign(f"{emu.base_url}/oauth/request_token")
    response = requests.get(uri, headers=headers, timeout=HTTP_TIMEOUT)
    assert response.status_code == 401
    assert problem(response) == "signature_method_rejected"


def test_request_without_oauth_is_parameter_absent(emu: Emulator) -> None:
    response = requests.get(f"{emu.base_url}/v1/accounts/list.json", timeout=HTTP_TIMEOUT)
    assert response.status_code == 401
    assert problem(response) == "parameter_absent"


def test_garbage_authorization_header_is_rejected_not_a_crash(emu: Emulator) -> None:
    for header in ('OAuth oauth_consumer_key="x', "OAuth ,,,==", 'OAuth oauth_nonce="a", oauth_nonce="b"'):
        response = requests.get(
            f"{emu.base_url}/v1/accounts/list.json", headers={"Authorization": header}, timeout=HTTP_TIMEOUT
        )
        assert response.status_code == 401, header
        assert problem(response) in {"parameter_rejected", "parameter_absent"}
    assert admin(emu, "GET", "/health").status_code == 200


# -- authorize page and access token ------------------------------------------------------


def test_authorize_page_rejects_unknown_token_and_wrong_key(emu: Emulator) -> None:
    token, _ = request_token(service_for(emu))
    for params in ({"key": emu.consumer_key, "token": "bogus"}, {"key": "wrongkey", "token": token}, {}):
        page = requests.get(f"{emu.base_url}/e/t/etws/authorize", params=params, timeout=HTTP_TIMEOUT)
        assert page.status_code == 400
        assert 'id="verifier"' not in page.text


def test_request_token_lives_five_minutes(emu: Emulator) -> None:
    service = service_for(emu)
    token, secret = request_token(service)
    verifier = verifier_from_page(emu, emu.consumer_key, token)
    emu.clock.advance(timedelta(minutes=5))
    page = requests.get(
        f"{emu.base_url}/e/t/etws/authorize", params={"key": emu.consumer_key, "token": token}, timeout=HTTP_TIMEOUT
    )
    assert page.status_code == 400
    response = service.get_raw_access_token(token, secret, params={"oauth_verifier": verifier}, header_auth=True)
    assert response.status_code == 401
    assert problem(response) == "token_expired"


def test_request_token_can_be_exchanged_once_and_needs_its_verifier(emu: Emulator) -> None:
    service = service_for(emu)
    token, secret = request_token(service)
    wrong = service.get_raw_access_token(token, secret, params={"oauth_verifier": "ZZZZZ"}, header_auth=True)
    assert wrong.status_code == 401 and problem(wrong) == "token_rejected"
    verifier = verifier_from_page(emu, emu.consumer_key, token)
    first = service.get_raw_access_token(token, secret, params={"oauth_verifier": verifier}, header_auth=True)
    assert first.status_code == 200
    again = service.get_raw_access_token(token, secret, params={"oauth_verifier": verifier}, header_auth=True)
    assert again.status_code == 401 and problem(again) == "token_rejected"


def test_request_token_cannot_call_rest_endpoints(emu: Emulator) -> None:
    service = service_for(emu)
    token, secret = request_token(service)
    session = OAuth1Session(emu.consumer_key, emu.consumer_secret, token, secret, service=service)
    try:
        response = get(session, emu, "/v1/accounts/list")
        assert response.status_code == 401
        # XML by default: the OAuth failure comes back in E*TRADE's Error element.
        assert response.text.endswith("<Error><message>oauth_problem=token_rejected</message></Error>")
    finally:
        session.close()


def test_signature_with_wrong_token_secret_is_invalid(emu: Emulator, session: OAuth1Session) -> None:
    forged = OAuth1Session(emu.consumer_key, emu.consumer_secret, session.access_token, "wrong-secret")
    try:
        response = get(forged, emu, "/v1/accounts/list.json")
        assert response.status_code == 401
        assert response.json() == {"Error": {"message": "oauth_problem=signature_invalid"}}
    finally:
        forged.close()


# -- lifetime -----------------------------------------------------------------------------


def test_token_goes_inactive_after_two_idle_hours_and_renew_revives_it(emu: Emulator, session: OAuth1Session) -> None:
    emu.clock.advance(timedelta(hours=2) - timedelta(seconds=1))
    assert accounts_status(session, emu) == 200  # still active; this request resets the idle timer
    emu.clock.advance(timedelta(hours=2))
    response = get(session, emu, "/v1/accounts/list.json")
    assert response.status_code == 401
    assert response.json() == {"Error": {"message": "oauth_problem=token_rejected"}}
    renewed = renew(session, emu)
    assert renewed.status_code == 200
    assert renewed.text == "Access Token has been renewed"
    assert accounts_status(session, emu) == 200


def test_renew_of_an_active_token_keeps_it_alive(emu: Emulator, session: OAuth1Session) -> None:
    emu.clock.advance(timedelta(hours=1, minutes=30))
    assert renew(session, emu).status_code == 200
    emu.clock.advance(timedelta(hours=1, minutes=30))
    assert accounts_status(session, emu) == 200


def _keep_alive_until(emu: Emulator, session: OAuth1Session, target: datetime) -> None:
    while emu.clock.now() < target:
        emu.clock.set(min(target, emu.clock.now() + timedelta(hours=1, minutes=50)))
        assert accounts_status(session, emu) == 200, emu.clock.now()


EASTERN_MIDNIGHTS = [
    # An ordinary day: issued 10:00 EDT, dies at 00:00 EDT (04:00 UTC).
    pytest.param(datetime(2026, 3, 10, 14, 0, tzinfo=UTC), datetime(2026, 3, 11, 4, 0, tzinfo=UTC), id="ordinary"),
    # 2026-03-08 has 23 hours: issued 00:30 EST, dies at 00:00 EDT next day = 04:00 UTC.
    pytest.param(datetime(2026, 3, 8, 5, 30, tzinfo=UTC), datetime(2026, 3, 9, 4, 0, tzinfo=UTC), id="dst-starts"),
    # 2026-11-01 has 25 hours: issued 00:30 EDT, dies at 00:00 EST next day = 05:00 UTC.
    pytest.param(datetime(2026, 11, 1, 4, 30, tzinfo=UTC), datetime(2026, 11, 2, 5, 0, tzinfo=UTC), id="dst-ends"),
    # The evening before the spring change: issued 23:30 EST, dies at 00:00 EST = 05:00 UTC.
    pytest.param(datetime(2026, 3, 8, 4, 30, tzinfo=UTC), datetime(2026, 3, 8, 5, 0, tzinfo=UTC), id="eve-of-dst"),
]


@pytest.mark.parametrize(("issued", "midnight"), EASTERN_MIDNIGHTS)
def test_access_token_expires_at_next_midnight_eastern(emu: Emulator, issued: datetime, midnight: datetime) -> None:
    emu.clock.set(issued)
    session = login(emu)
    try:
        [entry] = admin(emu, "GET", "/sessions").json()["sessions"]
        assert datetime.fromisoformat(entry["expires_at"]) == midnight
        _keep_alive_until(emu, session, midnight - timedelta(seconds=1))
        emu.clock.advance(timedelta(seconds=1))
        response = get(session, emu, "/v1/accounts/list.json")
        assert response.status_code == 401
        assert response.json() == {"Error": {"message": "oauth_problem=token_expired"}}
        refused = renew(session, emu)
        assert refused.status_code == 401
        assert problem(refused) == "token_expired"
        assert accounts_status(session, emu) == 401
    finally:
        session.close()


def test_expired_beats_inactive(emu: Emulator) -> None:
    emu.clock.set(datetime(2026, 3, 10, 21, 0, tzinfo=UTC))  # 17:00 EDT
    session = login(emu)
    try:
        emu.clock.advance(timedelta(hours=10))  # idle and past midnight
        assert problem(get(session, emu, "/v1/accounts/list.json")) == "token_expired"
    finally:
        session.close()


def test_revoke_kills_the_token(emu: Emulator, session: OAuth1Session) -> None:
    response = revoke(session, emu)
    assert response.status_code == 200
    assert response.text == "Revoked Access Token"
    after = get(session, emu, "/v1/accounts/list.json")
    assert after.status_code == 401 and problem(after) == "token_rejected"
    assert renew(session, emu).status_code == 401
    assert problem(revoke(session, emu)) == "token_rejected"


def test_a_second_login_does_not_disturb_the_first(emu: Emulator, session: OAuth1Session) -> None:
    other = login(emu)
    try:
        assert accounts_status(other, emu) == 200
        assert accounts_status(session, emu) == 200
    finally:
        other.close()


def test_default_consumer_constants_are_what_the_emulator_accepts(emu: Emulator) -> None:
    assert (emu.consumer_key, emu.consumer_secret) == (DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET)


def test_official_sample_format_json_param_on_request_token_is_harmless(emu: Emulator) -> None:
    raw = service_for(emu).get_raw_request_token(params={"oauth_callback": "oob", "format": "json"}, header_auth=True)
    assert raw.status_code == 200
    assert "oauth_token=" in raw.text  # still form-encoded


def test_oauth_parameters_in_the_query_string_are_accepted(emu: Emulator, session: OAuth1Session) -> None:
    response = session.get(
        f"{emu.base_url}/v1/market/quote/AAPL.json", params={"detailFlag": "INTRADAY"}, timeout=HTTP_TIMEOUT
    )
    assert "oauth_signature=" in str(response.request.url)
    assert response.status_code == 200
    assert "Intraday" in response.json()["QuoteResponse"]["QuoteData"][0]


def test_an_expired_request_token_stays_expired_after_newer_logins(emu: Emulator) -> None:
    service = service_for(emu)
    token, secret = request_token(service)
    verifier = verifier_from_page(emu, emu.consumer_key, token)
    emu.clock.advance(timedelta(minutes=10))
    request_token(service)  # a newer login must not make the old token "unknown"
    response = service.get_raw_access_token(token, secret, params={"oauth_verifier": verifier}, header_auth=True)
    assert problem(response) == "token_expired"
