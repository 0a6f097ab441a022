"""The E*TRADE HTTP client: OAuth 1.0a signing with rauth, E*TRADE's answers turned into our errors.

``EtradeHttp`` is blocking (rauth is requests-based); ``Upstream`` runs it on a small thread pool so
the daemon's event loop never blocks. Nothing here logs or raises a secret: exceptions from
requests carry URLs (with ``oauth_verifier`` on the access-token call), so they are replaced by our
own messages.

rauth 0.7.3 is unmaintained. With requests >= 2.34 its ``Session.get(url)`` without ``params``
raises ``TypeError``; every call here goes through ``OAuth1Session.request`` with explicit params.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import requests
from rauth import OAuth1Session

from broker_client.errors import (
    ErrorCode,
    RateLimited,
    UpstreamError,
)
from daemon.log_redaction import mask_account_numbers
from daemon.settings import PRODUCTION_API, SANDBOX_API

log = logging.getLogger(__name__)

Module = Literal["oauth", "market", "accounts", "orders"]
JSON = dict[str, Any]
T = TypeVar("T")

AUTHORIZE_URL = "https://us.etrade.com/e/t/etws/authorize"

_OAUTH_PROBLEM = re.compile(r"oauth_problem=([A-Za-z_]+)")
_RATE_LIMIT_TEXT = "exceeded the rate limit"


@dataclass(frozen=True)
class Endpoints:
    """Where an environment's REST API, OAuth endpoints and authorize page live."""

    api_base: str
    oauth_base: str
    authorize_url: str

    @classmethod
    def production(cls) -> Endpoints:
        return cls(PRODUCTION_API, PRODUCTION_API, AUTHORIZE_URL)

    @classmethod
    def sandbox(cls) -> Endpoints:
        # E*TRADE's own sample does OAuth on api.etrade.com even with sandbox keys (reference §1.1).
        return cls(SANDBOX_API, PRODUCTION_API, AUTHORIZE_URL)

    @classmethod
    def emulator(cls, base_url: str) -> Endpoints:
        base = base_url.rstrip("/")
        return cls(base, base, f"{base}/e/t/etws/authorize")


@dataclass(frozen=True)
class ConsumerCredentials:
    key: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class RequestToken:
    token: str = field(repr=False)
    secret: str = field(repr=False)
    issued_at_ms: int = 0


@dataclass(frozen=True)
class AccessToken:
    token: str = field(repr=False)
    secret: str = field(repr=False)
    issued_at_ms: int = 0


class OAuthProblem(Exception):
    """E*TRADE refused the OAuth signature or token (HTTP 401 with ``oauth_problem=...``)."""

    def __init__(self, problem: str, status: int) -> None:
        super().__init__(f"E*TRADE refused the request: oauth_problem={problem} (HTTP {status})")
        self.problem = problem
        self.status = status


class EtradeApiError(UpstreamError):
    """E*TRADE answered with an error body: its HTTP status, its own code and message."""

    def __init__(self, http_status: int, etrade_code: int | None, etrade_message: str) -> None:
        code = ErrorCode.UPSTREAM_ERROR if http_status >= 500 else ErrorCode.UPSTREAM_REJECTED
        # E*TRADE's texts can name the account by number; what we pass on (to etradectl and to the
        # model) uses the same masked form as everywhere else.
        etrade_message = mask_account_numbers(etrade_message)
        shown = f"E*TRADE error {etrade_code}: {etrade_message}" if etrade_code is not None else etrade_message
        super().__init__(code, shown or f"E*TRADE answered HTTP {http_status}")
        self.http_status = http_status
        self.etrade_code = etrade_code
        self.etrade_message = etrade_message


def _oauth_problem(body: str) -> str | None:
    match = _OAUTH_PROBLEM.search(body)
    return match.group(1) if match else None


def _error_body(body: str) -> tuple[int | None, str]:
    """E*TRADE's ``{"Error": {"code": N, "message": "..."}}`` (code may be missing or a string)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None, ""
    error = data.get("Error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None, ""
    raw_code = error.get("code")
    try:
        code = int(raw_code) if raw_code is not None else None
    except (TypeError, ValueError):
        code = None
    return code, str(error.get("message") or "")


class EtradeHttp:
    """Blocking E*TRADE client. Thread-safe: each worker thread keeps its own HTTP sessions."""

    def __init__(self, endpoints: Endpoints, *, timeout: float) -> None:
        self.endpoints = endpoints
        self.timeout = timeout
        self._local = threading.local()

    # OAuth -------------------------------------------------------------------------------

    def request_token(self, consumer: ConsumerCredentials) -> RequestToken:
        response = self._send(
            consumer, None, None, f"{self.endpoints.oauth_base}/oauth/request_token", {"oauth_callback": "oob"}
        )
        fields = self._token_fields(response, "request token")
        return RequestToken(fields["oauth_token"], fields["oauth_token_secret"], int(time.time() * 1000))

    def authorize_url(self, consumer: ConsumerCredentials, request: RequestToken) -> str:
        query = urllib.parse.urlencode({"key": consumer.key, "token": request.token})
        return f"{self.endpoints.authorize_url}?{query}"

    def access_token(self, consumer: ConsumerCredentials, request: RequestToken, verifier: str) -> AccessToken:
        response = self._send(
            consumer,
            request.token,
            request.secret,
            f"{self.endpoints.oauth_base}/oauth/access_token",
            {"oauth_verifier": verifier},
        )
        fields = self._token_fields(response, "access token")
        return AccessToken(fields["oauth_token"], fields["oauth_token_secret"], int(time.time() * 1000))

    def renew(self, consumer: ConsumerCredentials, access: AccessToken) -> None:
        response = self._send(
            consumer, access.token, access.secret, f"{self.endpoints.oauth_base}/oauth/renew_access_token", {}
        )
        self._raise_for_status(response)

    def revoke(self, consumer: ConsumerCredentials, access: AccessToken) -> None:
        response = self._send(
            consumer, access.token, access.secret, f"{self.endpoints.oauth_base}/oauth/revoke_access_token", {}
        )
        self._raise_for_status(response)

    # REST --------------------------------------------------------------------------------

    def get_json(
        self,
        consumer: ConsumerCredentials,
        access: AccessToken,
        path: str,
        params: Mapping[str, str],
        timeout: float | None = None,
    ) -> JSON | None:
        """GET ``{api_base}{path}.json``; ``None`` for HTTP 204 (E*TRADE's "nothing matched").

        ``timeout`` (seconds) shortens the configured one, to fit the caller's deadline.
        """
        url = f"{self.endpoints.api_base}{path}.json"
        response = self._send(consumer, access.token, access.secret, url, params, timeout=timeout)
        return self._json_document(response)

    def send_json(
        self, consumer: ConsumerCredentials, access: AccessToken, method: str, path: str, body: JSON
    ) -> JSON | None:
        """POST/PUT a JSON body to ``{api_base}{path}.json`` (orders); ``None`` for HTTP 204.

        The body travels as ``application/json``, so (as OAuth 1.0a prescribes for non-form bodies) it
        is not part of the signature. Timeouts and lost connections raise UpstreamError
        (UPSTREAM_TIMEOUT / UPSTREAM_UNAVAILABLE): for a place request that means "outcome unknown".
        """
        url = f"{self.endpoints.api_base}{path}.json"
        response = self._send(
            consumer,
            access.token,
            access.secret,
            url,
            {},
            method=method,
            body=json.dumps(body),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            # For a place request a lost connection means "outcome unknown", not "not sent".
            lost="lost the connection to",
        )
        return self._json_document(response)

    def delete_json(self, consumer: ConsumerCredentials, access: AccessToken, path: str) -> JSON | None:
        """DELETE ``{api_base}{path}.json`` (alerts); ``None`` for HTTP 204."""
        url = f"{self.endpoints.api_base}{path}.json"
        response = self._send(consumer, access.token, access.secret, url, {}, method="DELETE")
        return self._json_document(response)

    def _json_document(self, response: requests.Response) -> JSON | None:
        """The JSON object E*TRADE answered, None for HTTP 204; errors become our exceptions."""
        self._raise_for_status(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            data = response.json()
        except ValueError:
            raise UpstreamError(ErrorCode.UPSTREAM_ERROR, "E*TRADE answered with something that is not JSON") from None
        if not isinstance(data, dict):
            raise UpstreamError(ErrorCode.UPSTREAM_ERROR, "E*TRADE answered with an unexpected JSON document")
        return data

    # plumbing ----------------------------------------------------------------------------

    def _session(self, consumer: ConsumerCredentials, token: str | None, secret: str | None) -> Any:
        sessions: dict[tuple[str, str | None], Any] | None = getattr(self._local, "sessions", None)
        if sessions is None:
            sessions = {}
            self._local.sessions = sessions
        key = (consumer.key, token)
        session = sessions.get(key)
        if session is None:
            if len(sessions) > 8:  # old tokens: drop their sessions rather than grow forever
                for old in sessions.values():
                    old.close()
                sessions.clear()
            session = OAuth1Session(consumer.key, consumer.secret, access_token=token, access_token_secret=secret)
            sessions[key] = session
        return session

    def _send(
        self,
        consumer: ConsumerCredentials,
        token: str | None,
        secret: str | None,
        url: str,
        params: Mapping[str, str],
        *,
        timeout: float | None = None,
        method: str = "GET",
        body: str | None = None,
        headers: Mapping[str, str] | None = None,
        lost: str = "cannot reach",
    ) -> requests.Response:
        """One signed request; transport failures become UPSTREAM_TIMEOUT / UPSTREAM_UNAVAILABLE with
        our own words (requests' messages carry URLs, and the access-token URL carries the verifier)."""
        session = self._session(consumer, token, secret)
        host = urllib.parse.urlsplit(url).netloc
        limit = self.timeout if timeout is None else max(0.001, min(self.timeout, timeout))
        extra: dict[str, Any] = {}
        if body is not None:
            extra["data"] = body
        if headers is not None:
            extra["headers"] = dict(headers)
        try:
            response: requests.Response = session.request(
                method, url, header_auth=True, params=dict(params), timeout=limit, **extra
            )
        except requests.Timeout:
            raise UpstreamError(
                ErrorCode.UPSTREAM_TIMEOUT, f"E*TRADE ({host}) did not answer within {limit:.3g} s"
            ) from None
        except requests.RequestException as exc:
            raise UpstreamError(
                ErrorCode.UPSTREAM_UNAVAILABLE, f"{lost} E*TRADE at {host} ({type(exc).__name__})"
            ) from None
        return response

    def _raise_for_status(self, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        body = response.text[:4000]
        if status == 401:
            raise OAuthProblem(_oauth_problem(body) or "unknown", status)
        if status == 400 and _RATE_LIMIT_TEXT in body.lower():
            raise RateLimited(ErrorCode.RATE_LIMITED, "E*TRADE's rate limit was exceeded", retry_after=1.0)
        code, message = _error_body(body)
        if code is None and not message:
            problem = _oauth_problem(body)
            if problem:
                raise OAuthProblem(problem, status)
            message = f"E*TRADE answered HTTP {status}"
        raise EtradeApiError(status, code, message)

    def _token_fields(self, response: requests.Response, what: str) -> dict[str, str]:
        self._raise_for_status(response)
        fields = dict(urllib.parse.parse_qsl(response.text))
        if not fields.get("oauth_token") or not fields.get("oauth_token_secret"):
            raise UpstreamError(ErrorCode.UPSTREAM_ERROR, f"E*TRADE's {what} answer had no token")
        return fields


class Upstream:
    """Runs blocking ``EtradeHttp`` calls on worker threads, off the event loop."""

    def __init__(self, http: EtradeHttp, *, max_workers: int = 8) -> None:
        self.http = http
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="etrade-http")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
