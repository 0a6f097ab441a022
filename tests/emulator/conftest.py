"""Shared fixtures: a real in-process emulator over loopback HTTP, and rauth sessions on it.

rauth is the project's E*TRADE client, so every OAuth call here goes through it with
``header_auth=True`` — and always with ``params=`` (requests >= 2.34 breaks rauth's ``get``
without params).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from rauth import OAuth1Service, OAuth1Session

from emulator import Emulator

#: Tuesday 2026-03-10 11:00 EDT: a regular trading session.
T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
VERIFIER_RE = re.compile(r'<code id="verifier">([A-Z0-9]+)</code>')
HTTP_TIMEOUT = 10


def make_emulator(**overrides: Any) -> Emulator:
    """An emulator for tests: no latency, no limits, frozen at T0 (overridable)."""
    options: dict[str, Any] = {
        "seed": 42,
        "latency_ms": (0, 0),
        "rate_limits": None,
        "start": T0,
        "frozen": True,
    }
    options.update(overrides)
    return Emulator(**options)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with make_emulator() as running:
        yield running


def service_for(emu: Emulator, consumer_key: str | None = None, consumer_secret: str | None = None) -> OAuth1Service:
    base = emu.base_url
    return OAuth1Service(
        name="etrade-emulator",
        consumer_key=consumer_key or emu.consumer_key,
        consumer_secret=consumer_secret or emu.consumer_secret,
        request_token_url=f"{base}/oauth/request_token",
        access_token_url=f"{base}/oauth/access_token",
        authorize_url=f"{base}/e/t/etws/authorize",
        base_url=base,
    )


def request_token(service: OAuth1Service) -> tuple[str, str]:
    token, secret = service.get_request_token(params={"oauth_callback": "oob"}, header_auth=True)
    return str(token), str(secret)


def verifier_from_page(emu: Emulator, consumer_key: str, token: str) -> str:
    page = requests.get(
        f"{emu.base_url}/e/t/etws/authorize", params={"key": consumer_key, "token": token}, timeout=HTTP_TIMEOUT
    )
    assert page.status_code == 200, page.text
    found = VERIFIER_RE.search(page.text)
    assert found is not None, page.text
    return found.group(1)


def login(emu: Emulator, consumer_key: str | None = None, consumer_secret: str | None = None) -> OAuth1Session:
    """The full OAuth dance the way a user does it: request token, authorize page, access token."""
    service = service_for(emu, consumer_key, consumer_secret)
    token, secret = request_token(service)
    verifier = verifier_from_page(emu, service.consumer_key, token)
    return service.get_auth_session(token, secret, params={"oauth_verifier": verifier}, header_auth=True)


@pytest.fixture
def session(emu: Emulator) -> Iterator[OAuth1Session]:
    logged_in = login(emu)
    yield logged_in
    logged_in.close()


def get(session: OAuth1Session, emu: Emulator, path: str, **params: Any) -> requests.Response:
    """A signed GET of ``path`` (e.g. ``/v1/accounts/list.json``)."""
    response: requests.Response = session.get(
        f"{emu.base_url}{path}", params=params, header_auth=True, timeout=HTTP_TIMEOUT
    )
    return response


def admin(emu: Emulator, method: str, path: str, body: Any = None) -> requests.Response:
    """An admin call (JSON, no OAuth), e.g. ``admin(emu, "POST", "/faults", {...})``."""
    response: requests.Response = requests.request(
        method, f"{emu.base_url}/_emulator{path}", json=body, timeout=HTTP_TIMEOUT
    )
    return response


def account_keys(session: OAuth1Session, emu: Emulator) -> list[dict[str, Any]]:
    response = get(session, emu, "/v1/accounts/list.json")
    assert response.status_code == 200
    accounts: list[dict[str, Any]] = response.json()["AccountListResponse"]["Accounts"]["Account"]
    return accounts


def open_account_key(session: OAuth1Session, emu: Emulator, mode: str = "MARGIN") -> str:
    for account in account_keys(session, emu):
        if account["accountMode"] == mode and account["accountStatus"] == "ACTIVE":
            return str(account["accountIdKey"])
    raise AssertionError(f"no open {mode} account")
