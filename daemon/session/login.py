"""The OAuth 1.0a login handshake: a request token, the human's authorisation at E*TRADE, and the
verification code exchanged for an access token.

Holds only the pending request token (five minutes); the :class:`~daemon.session.manager.SessionManager`
serialises logins and owns the resulting access token and the state. The verification code is never
logged and never appears in an error.
"""

from __future__ import annotations

import logging

from broker_client.errors import ErrorCode, InvalidRequest, SessionError
from daemon.clock import Clock
from daemon.etrade.upstream import ConsumerCredentials, OAuthProblem, RequestToken, Upstream
from daemon.session.state import REQUEST_TOKEN_LIFETIME, VERIFIER, login_refused

log = logging.getLogger(__name__)


def check_verifier(raw: str) -> str:
    """The verification code, stripped, or an error that does not repeat it."""
    verifier = raw.strip()
    if not VERIFIER.match(verifier):
        raise InvalidRequest(
            ErrorCode.INVALID_ARGUMENT,
            "the verification code must be the letters and digits E*TRADE showed after you accepted",
        )
    return verifier


class OAuthLogin:
    def __init__(self, upstream: Upstream, clock: Clock) -> None:
        self._upstream = upstream
        self._clock = clock
        self._pending: RequestToken | None = None

    def forget(self) -> None:
        """Drop a half-done login (the consumer changed, or the user logged out)."""
        self._pending = None

    async def begin(self, consumer: ConsumerCredentials) -> tuple[str, float]:
        """Get a request token; return the authorize URL and when the request token lapses."""
        try:
            request = await self._upstream.run(self._upstream.http.request_token, consumer)
        except OAuthProblem as exc:
            raise login_refused(exc, "the consumer key and secret") from None
        self._pending = RequestToken(request.token, request.secret, int(self._clock.now() * 1000))
        log.info("login: request token obtained; waiting for the verification code")
        url = self._upstream.http.authorize_url(consumer, request)
        return url, self._clock.now() + REQUEST_TOKEN_LIFETIME

    async def complete(self, consumer: ConsumerCredentials | None, verifier: str) -> tuple[str, str]:
        """Exchange the (checked) verifier for an access token: its token and secret."""
        pending = self._pending
        if pending is None or consumer is None:
            raise SessionError(ErrorCode.LOGIN_NOT_STARTED, "no login is in progress")
        if self._clock.now() - pending.issued_at_ms / 1000.0 > REQUEST_TOKEN_LIFETIME:
            self._pending = None
            raise SessionError(ErrorCode.LOGIN_NOT_STARTED, "the login request expired (after 5 minutes)")
        try:
            access = await self._upstream.run(self._upstream.http.access_token, consumer, pending, verifier)
        except OAuthProblem as exc:
            raise login_refused(exc, "the verification code") from None
        self._pending = None
        return access.token, access.secret
