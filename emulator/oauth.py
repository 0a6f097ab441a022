"""OAuth 1.0a as E*TRADE runs it, verified by oauthlib's server side.

Signature checking (HMAC-SHA1 over the normalized request), parameter collection from the
``Authorization`` header / query / form body, the mandatory-parameter and timestamp checks
all come from ``oauthlib.oauth1`` (``BaseEndpoint`` + a ``RequestValidator``) — an
implementation independent of rauth, the client the project uses. On top of it this module
adds E*TRADE's rules, each failure reported as ``oauth_problem=<problem>``:

- ``oauth_callback`` must be ``oob`` on ``request_token`` (else 400 ``callback_rejected``).
- Request tokens live 5 minutes; a verifier (5 upper-case alphanumerics) is shown on the
  authorize page as if the seeded demo user signed in and accepted.
- Access tokens expire at the next 00:00 America/New_York after issue (``token_expired``),
  go inactive after 2 hours without a signed request (``token_rejected``) until
  ``renew_access_token``, and die on ``revoke_access_token`` (``token_rejected``).
- Timestamps must be within 5 minutes of the host's **real** clock (plus an admin-injected
  skew), because clients sign with real time even when a test moves the emulator clock.
- A nonce may be used once per (consumer, token, timestamp) (``nonce_used``).

Token lifetimes use the emulator clock. Secrets, tokens and verifiers are never logged.
"""

from __future__ import annotations

import base64
import enum
import html
import logging
import secrets
import string
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from oauthlib.oauth1 import RequestValidator
from oauthlib.oauth1.rfc5849 import SIGNATURE_HMAC_SHA1, errors
from oauthlib.oauth1.rfc5849.endpoints.base import BaseEndpoint

from emulator.clock import Clock, next_eastern_midnight
from emulator.errors import OAuthProblem
from emulator.routing import Request, Response

# oauthlib logs signature base strings (which contain tokens) at DEBUG; keep it quiet so a
# verbose root logger can never leak them.
logging.getLogger("oauthlib").setLevel(logging.WARNING)

REQUEST_TOKEN_LIFETIME = timedelta(minutes=5)
IDLE_LIMIT = timedelta(hours=2)
#: Allowed distance between oauth_timestamp and the server's real clock, seconds.
TIMESTAMP_WINDOW = 300
VERIFIER_ALPHABET = string.ascii_uppercase + string.digits
VERIFIER_LENGTH = 5

_NONCE_CHARS = frozenset(string.ascii_letters + string.digits + "-._~")
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "+/=-_")
_KEY_CHARS = frozenset(string.ascii_letters + string.digits + "-._~")


def _opaque_token() -> str:
    """An E*TRADE-looking token: base64 of 32 random bytes (contains ``/``, ``+``, ``=``)."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _verifier() -> str:
    return "".join(secrets.choice(VERIFIER_ALPHABET) for _ in range(VERIFIER_LENGTH))


class TokenState(enum.Enum):
    """Lifecycle of an access token on the emulator clock."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


@dataclass
class RequestToken:
    """A temporary credential awaiting the user's authorization."""

    token: str
    secret: str
    consumer_key: str
    verifier: str
    created_at: datetime
    used: bool = False

    @property
    def expires_at(self) -> datetime:
        """Five minutes after issue (emulator clock)."""
        return self.created_at + REQUEST_TOKEN_LIFETIME

    def pending(self, now: datetime) -> bool:
        """Not yet exchanged and not expired."""
        return not self.used and now < self.expires_at


@dataclass
class AccessToken:
    """A session credential; dies at midnight ET, idles out after 2 hours."""

    token: str
    secret: str
    consumer_key: str
    issued_at: datetime
    expires_at: datetime
    last_used_at: datetime
    revoked: bool = False

    def state(self, now: datetime) -> TokenState:
        """The token's state at ``now``; revoked wins over expired wins over inactive."""
        if self.revoked:
            return TokenState.REVOKED
        if now >= self.expires_at:
            return TokenState.EXPIRED
        if now - self.last_used_at >= IDLE_LIMIT:
            return TokenState.INACTIVE
        return TokenState.ACTIVE


class _Kind(enum.Enum):
    REQUEST_TOKEN = "request_token"
    ACCESS_TOKEN = "access_token"
    RESOURCE = "resource"
    RENEW = "renew"
    REVOKE = "revoke"


class _Validator(RequestValidator):  # type: ignore[misc]
    """oauthlib's hooks, answered from the emulator's consumers and token store."""

    def __init__(self, service: OAuthService) -> None:
        super().__init__()
        self._service = service

    # Policy: HMAC-SHA1 only (E*TRADE's only method), plain http allowed on loopback.
    @property
    def allowed_signature_methods(self) -> tuple[str, ...]:
        return (SIGNATURE_HMAC_SHA1,)

    @property
    def enforce_ssl(self) -> bool:
        return False

    @property
    def timestamp_lifetime(self) -> int:
        # Our own check (with the admin skew) is the precise one; oauthlib's real-clock check
        # stays as a backstop that can never be stricter than ours.
        return TIMESTAMP_WINDOW + int(abs(self._service.skew_seconds())) + 1

    # Format checks. oauthlib's defaults (20-30 alphanumerics) reject rauth's 40-hex nonces,
    # E*TRADE's base64 tokens and 5-character verifiers.
    def check_client_key(self, client_key: str) -> bool:
        return 0 < len(client_key) <= 128 and set(client_key) <= _KEY_CHARS

    def check_nonce(self, nonce: str) -> bool:
        return 0 < len(nonce) <= 128 and set(nonce) <= _NONCE_CHARS

    def check_request_token(self, request_token: str) -> bool:
        return 0 < len(request_token) <= 128 and set(request_token) <= _TOKEN_CHARS

    def check_access_token(self, request_token: str) -> bool:
        return self.check_request_token(request_token)

    def check_verifier(self, verifier: str) -> bool:
        return 0 < len(verifier) <= 16 and verifier.isalnum()

    # Secrets for the signature check.
    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return client_key in self._service.consumers

    def get_client_secret(self, client_key: str, request: Any) -> str:
        return self._service.consumers.get(client_key, "")

    def get_request_token_secret(self, client_key: str, token: str, request: Any) -> str:
        found = self._service.find_request_token(token)
        return found.secret if found is not None else ""

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        found = self._service.find_access_token(token)
        return found.secret if found is not None else ""

    def validate_timestamp_and_nonce(
        self,
        client_key: str,
        timestamp: str,
        nonce: str,
        request: Any,
        request_token: str | None = None,
        access_token: str | None = None,
    ) -> bool:
        return self._service.remember_nonce((client_key, request_token or access_token or "", timestamp, nonce))


class _Endpoint(BaseEndpoint):  # type: ignore[misc]
    """oauthlib's verification steps, driven in E*TRADE's order with E*TRADE's problem names.

    The public oauthlib endpoints answer "valid or not"; E*TRADE reports *why*, so this class
    calls the same building blocks (``_create_request``, ``_check_mandatory_parameters``,
    ``_check_signature``: the hooks oauthlib's own endpoints are built from) one at a time.
    """

    def parse(self, request: Request) -> Any:
        authorization = request.headers.get("authorization", "")
        content_type = request.headers.get("content-type", "")
        # OAuth 1.0a allows its parameters in the header, the query or a form-encoded body.
        in_body = content_type.lower().startswith("application/x-www-form-urlencoded") and any(
            key.startswith("oauth_") for key, _ in parse_qsl(request.body.decode("utf-8", errors="replace"))
        )
        has_oauth = (
            authorization.lower().startswith("oauth ") or any(k.startswith("oauth_") for k in request.query) or in_body
        )
        if not has_oauth:
            raise OAuthProblem("parameter_absent", extra={"oauth_parameters_absent": "oauth_consumer_key"})
        headers = {"Authorization": authorization} if authorization else {}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            return self._create_request(
                request.uri, request.method, request.body.decode("utf-8", errors="replace"), headers
            )
        except errors.OAuth1Error as exc:
            raise OAuthProblem("parameter_rejected") from exc
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            # A malformed Authorization header (bad quoting, no '=') is rejected, not a crash.
            raise OAuthProblem("parameter_rejected") from exc

    def check_parameters(self, oauth: Any, kind: _Kind, skew: float) -> None:
        required = [
            ("oauth_consumer_key", oauth.client_key),
            ("oauth_signature_method", oauth.signature_method),
            ("oauth_signature", oauth.signature),
            ("oauth_timestamp", oauth.timestamp),
            ("oauth_nonce", oauth.nonce),
        ]
        if kind is not _Kind.REQUEST_TOKEN:
            required.append(("oauth_token", oauth.resource_owner_key))
        if kind is _Kind.ACCESS_TOKEN:
            required.append(("oauth_verifier", oauth.verifier))
        if kind is _Kind.REQUEST_TOKEN:
            required.append(("oauth_callback", oauth.redirect_uri))
        absent = [name for name, value in required if not value]
        if absent:
            raise OAuthProblem("parameter_absent", extra={"oauth_parameters_absent": "&".join(absent)})
        if oauth.signature_method != SIGNATURE_HMAC_SHA1:
            raise OAuthProblem("signature_method_rejected", extra={"oauth_acceptable_signature_methods": "HMAC-SHA1"})
        version = oauth.oauth_params.get("oauth_version")
        if version is not None and version != "1.0":
            raise OAuthProblem("version_rejected", extra={"oauth_acceptable_versions": "1.0-1.0"})
        if not oauth.timestamp.isdigit():
            raise OAuthProblem("parameter_rejected", extra={"oauth_parameters_rejected": "oauth_timestamp"})
        now = int(time.time() + skew)
        if abs(now - int(oauth.timestamp)) > TIMESTAMP_WINDOW:
            acceptable = f"{now - TIMESTAMP_WINDOW}-{now + TIMESTAMP_WINDOW}"
            raise OAuthProblem("timestamp_refused", extra={"oauth_acceptable_timestamps": acceptable})
        validator = self.request_validator
        if not validator.check_client_key(oauth.client_key):
            raise OAuthProblem("consumer_key_rejected")
        if not validator.check_nonce(oauth.nonce):
            raise OAuthProblem("parameter_rejected", extra={"oauth_parameters_rejected": "oauth_nonce"})
        if oauth.resource_owner_key and not validator.check_access_token(oauth.resource_owner_key):
            raise OAuthProblem("token_rejected")
        if kind is _Kind.ACCESS_TOKEN and not validator.check_verifier(oauth.verifier):
            raise OAuthProblem("token_rejected")
        try:
            # oauthlib's own mandatory checks: method, version, timestamp vs the real clock, formats.
            self._check_mandatory_parameters(oauth)
        except errors.InvalidSignatureMethodError as exc:
            raise OAuthProblem("signature_method_rejected") from exc
        except errors.OAuth1Error as exc:
            raise OAuthProblem("parameter_rejected") from exc
        if not validator.validate_client_key(oauth.client_key, oauth):
            raise OAuthProblem("consumer_key_rejected")

    def check_signature(self, oauth: Any, is_token_request: bool) -> None:
        if not self._check_signature(oauth, is_token_request=is_token_request):
            raise OAuthProblem("signature_invalid")

    def check_nonce_unused(self, oauth: Any, kind: _Kind) -> None:
        token = oauth.resource_owner_key if kind is not _Kind.REQUEST_TOKEN else None
        fresh = self.request_validator.validate_timestamp_and_nonce(
            oauth.client_key,
            oauth.timestamp,
            oauth.nonce,
            oauth,
            request_token=token if kind is _Kind.ACCESS_TOKEN else None,
            access_token=token if kind is not _Kind.ACCESS_TOKEN else None,
        )
        if not fresh:
            raise OAuthProblem("nonce_used")


_ERROR_PAGE = """<html><head><title>Apache Tomcat/7.0 - Error report</title></head>
<body><h1>HTTP Status {status} - {text}</h1><hr/>
<p><b>type</b> Status report</p><p><b>message</b> <u>{text}</u></p>
<p><b>description</b> <u>{description}</u></p><hr/><h3>Apache Tomcat/7.0</h3></body></html>
"""

_AUTHORIZE_PAGE = """<!DOCTYPE html>
<html><head><title>E*TRADE - Authorize Application</title></head>
<body>
<h1>Application authorized</h1>
<p>You have been signed in as <b>{user}</b> and have accepted the application's request to
access your E*TRADE account.</p>
<p>Please copy this verification code and enter it in the application:</p>
<p><code id="verifier">{verifier}</code></p>
</body></html>
"""

_AUTHORIZE_ERROR_PAGE = """<!DOCTYPE html>
<html><head><title>E*TRADE - Authorization error</title></head>
<body><h1>We're sorry</h1><p id="error">{message}</p></body></html>
"""

#: The seeded user who "signs in" on the authorize page.
DEMO_USER = "demo-investor"


def oauth_error_page(problem: OAuthProblem) -> Response:
    """The Tomcat-style HTML page E*TRADE's token endpoints answer failures with."""
    description = "This request requires HTTP authentication." if problem.status == 401 else "Bad request."
    text = html.escape(problem.text)
    body = _ERROR_PAGE.format(status=problem.status, text=text, description=description)
    return Response.text(problem.status, body, "text/html;charset=utf-8")


def oauth_status_page(status: int, method: str) -> Response:
    """The same Tomcat page for a path under /oauth that does not exist (404) or a method the
    token endpoints do not serve (405)."""
    if status == 405:
        text = f"HTTP method {html.escape(method)} is not supported by this URL"
        description = "The specified HTTP method is not allowed for the requested resource. Use GET or POST."
    else:
        text = "The requested resource is not available."
        description = (
            "The OAuth endpoints are /oauth/request_token, /oauth/access_token, "
            "/oauth/renew_access_token and /oauth/revoke_access_token."
        )
    body = _ERROR_PAGE.format(status=status, text=text, description=description)
    return Response.text(status, body, "text/html;charset=utf-8")


class OAuthService:
    """Consumers, tokens and nonces, plus the /oauth endpoint handlers.

    ``skew_seconds`` reports the admin-injected difference between the emulator's notion of
    real time and the host clock (the clock-skew fault).
    """

    def __init__(
        self,
        clock: Clock,
        consumers: Mapping[str, str],
        skew_seconds: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.clock = clock
        self.consumers = dict(consumers)
        self.skew_seconds = skew_seconds
        self._lock = threading.RLock()
        self._request_tokens: dict[str, RequestToken] = {}
        self._access_tokens: dict[str, AccessToken] = {}
        self._nonces: dict[tuple[str, str, str, str], float] = {}
        self._endpoint = _Endpoint(_Validator(self))

    # -- stores ------------------------------------------------------------------------
    def find_request_token(self, token: str) -> RequestToken | None:
        """The request token with this value, if any."""
        with self._lock:
            return self._request_tokens.get(token)

    def find_access_token(self, token: str) -> AccessToken | None:
        """The access token with this value, if any."""
        with self._lock:
            return self._access_tokens.get(token)

    def remember_nonce(self, key: tuple[str, str, str, str]) -> bool:
        """Record a (consumer, token, timestamp, nonce); False if it was seen before."""
        now = time.monotonic()
        with self._lock:
            if len(self._nonces) > 10_000:
                self._nonces = {k: exp for k, exp in self._nonces.items() if exp > now}
            expiry = self._nonces.get(key)
            if expiry is not None and expiry > now:
                return False
            # A nonce only needs remembering while its timestamp can still pass the window.
            self._nonces[key] = now + 2 * TIMESTAMP_WINDOW + abs(self.skew_seconds())
            return True

    def pending_verifier(self, request_token: str) -> str | None:
        """The verifier the authorize page shows for a pending request token, else None."""
        with self._lock:
            found = self._request_tokens.get(request_token)
            if found is None or not found.pending(self.clock.now()):
                return None
            return found.verifier

    def authorizations(self) -> list[dict[str, object]]:
        """Pending request tokens with their verifiers (admin view, for browserless logins)."""
        now = self.clock.now()
        with self._lock:
            return [
                {
                    "request_token": rt.token,
                    "verifier": rt.verifier,
                    "consumer_key": rt.consumer_key,
                    "user": DEMO_USER,
                    "created_at": rt.created_at.isoformat(),
                    "expires_at": rt.expires_at.isoformat(),
                }
                for rt in self._request_tokens.values()
                if rt.pending(now)
            ]

    def sessions(self) -> list[dict[str, object]]:
        """Access tokens' lifecycle (admin view). Shows a short prefix, never whole tokens."""
        now = self.clock.now()
        with self._lock:
            return [
                {
                    "token_prefix": at.token[:6],
                    "consumer_key": at.consumer_key,
                    "state": at.state(now).value,
                    "issued_at": at.issued_at.isoformat(),
                    "expires_at": at.expires_at.isoformat(),
                    "last_used_at": at.last_used_at.isoformat(),
                }
                for at in self._access_tokens.values()
            ]

    # -- verification ------------------------------------------------------------------
    def _verify(self, request: Request, kind: _Kind) -> Any:
        endpoint = self._endpoint
        oauth = endpoint.parse(request)
        endpoint.check_parameters(oauth, kind, self.skew_seconds())
        if kind is _Kind.REQUEST_TOKEN:
            if oauth.redirect_uri != "oob":
                raise OAuthProblem("callback_rejected", status=400, extra={"oauth_acceptable_callback": "oob"})
        elif kind is _Kind.ACCESS_TOKEN:
            rt = self.find_request_token(oauth.resource_owner_key)
            if rt is None or rt.consumer_key != oauth.client_key:
                raise OAuthProblem("token_rejected")
        else:
            at = self.find_access_token(oauth.resource_owner_key)
            if at is None or at.consumer_key != oauth.client_key:
                raise OAuthProblem("token_rejected")
        endpoint.check_signature(oauth, is_token_request=kind is _Kind.ACCESS_TOKEN)
        endpoint.check_nonce_unused(oauth, kind)
        return oauth

    def verify_resource(self, request: Request) -> str:
        """Authenticate a REST call with an active access token; returns the consumer key.

        Marks the token as used now, which is what keeps it from going inactive.
        """
        oauth = self._verify(request, _Kind.RESOURCE)
        now = self.clock.now()
        with self._lock:
            at = self._access_tokens[oauth.resource_owner_key]
            state = at.state(now)
            if state is TokenState.EXPIRED:
                raise OAuthProblem("token_expired")
            if state is not TokenState.ACTIVE:
                raise OAuthProblem("token_rejected")
            at.last_used_at = now
        return str(oauth.client_key)

    # -- endpoint handlers ---------------------------------------------------------------
    def handle_request_token(self, request: Request) -> Response:
        """``GET|POST /oauth/request_token``: a 5-minute request token (callback must be ``oob``)."""
        oauth = self._verify(request, _Kind.REQUEST_TOKEN)
        rt = RequestToken(_opaque_token(), _opaque_token(), oauth.client_key, _verifier(), self.clock.now())
        with self._lock:
            # Forget request tokens long after they stopped mattering (an hour past expiry), so
            # a late exchange still hears "token_expired" rather than "token_rejected".
            horizon = rt.created_at - timedelta(hours=1)
            self._request_tokens = {k: v for k, v in self._request_tokens.items() if v.expires_at > horizon}
            self._request_tokens[rt.token] = rt
        # No callback URL can be registered with the emulator, so it is never "confirmed".
        body = urlencode(
            [("oauth_token", rt.token), ("oauth_token_secret", rt.secret), ("oauth_callback_confirmed", "false")]
        )
        return Response.text(200, body, "application/x-www-form-urlencoded")

    def handle_access_token(self, request: Request) -> Response:
        """``GET|POST /oauth/access_token``: exchange an authorized request token + verifier."""
        oauth = self._verify(request, _Kind.ACCESS_TOKEN)
        now = self.clock.now()
        with self._lock:
            rt = self._request_tokens[oauth.resource_owner_key]
            if rt.used:
                raise OAuthProblem("token_rejected")
            if now >= rt.expires_at:
                raise OAuthProblem("token_expired")
            if not secrets.compare_digest(rt.verifier, str(oauth.verifier)):
                raise OAuthProblem("token_rejected")
            rt.used = True
            at = AccessToken(
                token=_opaque_token(),
                secret=_opaque_token(),
                consumer_key=rt.consumer_key,
                issued_at=now,
                expires_at=next_eastern_midnight(now),
                last_used_at=now,
            )
            self._access_tokens[at.token] = at
        body = urlencode([("oauth_token", at.token), ("oauth_token_secret", at.secret)])
        return Response.text(200, body, "application/x-www-form-urlencoded")

    def handle_renew(self, request: Request) -> Response:
        """``GET|POST /oauth/renew_access_token``: reactivate an idle token; cannot revive an expired one."""
        oauth = self._verify(request, _Kind.RENEW)
        now = self.clock.now()
        with self._lock:
            at = self._access_tokens[oauth.resource_owner_key]
            state = at.state(now)
            if state is TokenState.EXPIRED:
                raise OAuthProblem("token_expired")
            if state is TokenState.REVOKED:
                raise OAuthProblem("token_rejected")
            at.last_used_at = now
        return Response.text(200, "Access Token has been renewed")

    def handle_revoke(self, request: Request) -> Response:
        """``GET|POST /oauth/revoke_access_token``: the token is unusable afterwards."""
        oauth = self._verify(request, _Kind.REVOKE)
        now = self.clock.now()
        with self._lock:
            at = self._access_tokens[oauth.resource_owner_key]
            state = at.state(now)
            if state is TokenState.EXPIRED:
                raise OAuthProblem("token_expired")
            if state is TokenState.REVOKED:
                raise OAuthProblem("token_rejected")
            at.revoked = True
        return Response.text(200, "Revoked Access Token")

    def handle_authorize(self, request: Request) -> Response:
        """``GET /e/t/etws/authorize?key=K&token=T``: the page showing the verification code."""
        key, token = request.param("key"), request.param("token")
        message = "The request token is invalid or has expired. Please start the authorization again."
        if not key or not token:
            message = "Missing consumer key or request token."
        else:
            verifier = self.pending_verifier(token)
            found = self.find_request_token(token)
            if verifier is not None and found is not None and found.consumer_key == key:
                page = _AUTHORIZE_PAGE.format(user=DEMO_USER, verifier=verifier)
                return Response.text(200, page, "text/html;charset=utf-8")
        return Response.text(400, _AUTHORIZE_ERROR_PAGE.format(message=message), "text/html;charset=utf-8")
