"""The token endpoints over POST, as independent E*TRADE clients send them.

pyetrade (on requests-oauthlib) POSTs ``/oauth/request_token`` and ``/oauth/access_token``, and real
E*TRADE processes those POSTs. Two signers independent of the emulator's verifier drive it here:
rauth with ``method="POST"`` (OAuth parameters in the header) and oauthlib's client signing a
form-encoded body (OAuth parameters in the body, where requests-oauthlib's ``signature_type="BODY"``
puts them). Every failure under ``/oauth`` answers the same Tomcat page with ``oauth_problem=…``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import requests
from oauthlib.oauth1 import SIGNATURE_TYPE_BODY, Client

from emulator import Emulator
from tests.emulator.conftest import HTTP_TIMEOUT, get, service_for, verifier_from_page

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_rauth_login_with_post_token_requests_reaches_the_rest_api(emu: Emulator) -> None:
    service = service_for(emu)
    raw = service.get_raw_request_token(method="POST", params={"oauth_callback": "oob"}, data={}, header_auth=True)
    assert raw.status_code == 200, raw.text
    fields = dict(parse_qsl(raw.text))
    token, secret = fields["oauth_token"], fields["oauth_token_secret"]
    verifier = verifier_from_page(emu, emu.consumer_key, token)
    session = service.get_auth_session(
        token, secret, method="POST", params={"oauth_verifier": verifier}, data={}, header_auth=True
    )
    try:
        listed = get(session, emu, "/v1/accounts/list.json")
        assert listed.status_code == 200
        assert listed.json()["AccountListResponse"]["Accounts"]["Account"]
        renewed = session.post(f"{emu.base_url}/oauth/renew_access_token", params={}, data={}, header_auth=True)
        assert (renewed.status_code, renewed.text) == (200, "Access Token has been renewed")
        revoked = session.post(f"{emu.base_url}/oauth/revoke_access_token", params={}, data={}, header_auth=True)
        assert (revoked.status_code, revoked.text) == (200, "Revoked Access Token")
        after = get(session, emu, "/v1/accounts/list.json")
        assert after.status_code == 401 and "oauth_problem=token_rejected" in after.text
    finally:
        session.close()


def _post_signed_body(client: Client, url: str, extra: dict[str, str] | None = None) -> requests.Response:
    uri, headers, body = client.sign(url, http_method="POST", body=extra or {}, headers=FORM)
    return requests.post(uri, data=body, headers=headers, timeout=HTTP_TIMEOUT)


def test_oauthlib_body_signed_post_logs_in(emu: Emulator) -> None:
    base = emu.base_url
    asking = Client(
        emu.consumer_key, client_secret=emu.consumer_secret, callback_uri="oob", signature_type=SIGNATURE_TYPE_BODY
    )
    issued = _post_signed_body(asking, f"{base}/oauth/request_token")
    assert issued.status_code == 200, issued.text
    fields = dict(parse_qsl(issued.text))
    verifier = verifier_from_page(emu, emu.consumer_key, fields["oauth_token"])
    exchanging = Client(
        emu.consumer_key,
        client_secret=emu.consumer_secret,
        resource_owner_key=fields["oauth_token"],
        resource_owner_secret=fields["oauth_token_secret"],
        verifier=verifier,
        signature_type=SIGNATURE_TYPE_BODY,
    )
    exchanged = _post_signed_body(exchanging, f"{base}/oauth/access_token")
    assert exchanged.status_code == 200, exchanged.text
    access = dict(parse_qsl(exchanged.text))
    assert set(access) == {"oauth_token", "oauth_token_secret"}
    calling = Client(
        emu.consumer_key,
        client_secret=emu.consumer_secret,
        resource_owner_key=access["oauth_token"],
        resource_owner_secret=access["oauth_token_secret"],
    )
    uri, headers, _ = calling.sign(f"{base}/v1/accounts/list.json")
    listed = requests.get(uri, headers=headers, timeout=HTTP_TIMEOUT)
    assert listed.status_code == 200
    assert "AccountListResponse" in listed.json()


def test_post_with_a_wrong_secret_is_signature_invalid_on_the_tomcat_page(emu: Emulator) -> None:
    client = Client(emu.consumer_key, client_secret="wrong", callback_uri="oob", signature_type=SIGNATURE_TYPE_BODY)
    response = _post_signed_body(client, f"{emu.base_url}/oauth/request_token")
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("text/html")
    assert "oauth_problem=signature_invalid" in response.text


def test_post_body_parameters_are_covered_by_the_signature(emu: Emulator) -> None:
    client = Client(
        emu.consumer_key, client_secret=emu.consumer_secret, callback_uri="oob", signature_type=SIGNATURE_TYPE_BODY
    )
    uri, headers, body = client.sign(
        f"{emu.base_url}/oauth/request_token", http_method="POST", body={"format": "json"}, headers=FORM
    )
    tampered = str(body).replace("format=json", "format=xml")
    assert tampered != body
    response = requests.post(uri, data=tampered, headers=headers, timeout=HTTP_TIMEOUT)
    assert response.status_code == 401 and "oauth_problem=signature_invalid" in response.text


def test_other_methods_and_unknown_paths_under_oauth_answer_the_same_tomcat_page(emu: Emulator) -> None:
    base = emu.base_url
    for method, path, status in (
        ("PUT", "/oauth/request_token", 405),
        ("DELETE", "/oauth/access_token", 405),
        ("GET", "/oauth/nothing_here", 404),
        ("POST", "/oauth/request_token.json/x", 404),
    ):
        response = requests.request(method, f"{base}{path}", timeout=HTTP_TIMEOUT)
        assert response.status_code == status, (method, path)
        assert response.headers["Content-Type"].startswith("text/html"), (method, path)
        assert re.search(rf"<h1>HTTP Status {status} - ", response.text), response.text
        assert "<Error>" not in response.text
    refused = requests.put(f"{base}/oauth/request_token", timeout=HTTP_TIMEOUT)
    assert "Use GET or POST" in refused.text
