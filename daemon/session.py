"""The daemon's E*TRADE session: credentials, login, the access token and its state.

Only this module touches tokens. Every upstream call that needs a token goes through
:meth:`SessionManager.call`, which checks the state first, records the time of the call and turns
E*TRADE's 401 ``oauth_problem`` answers into state changes and :class:`SessionError`\\ s that name the
command that fixes them. Transitions are logged, never with a secret.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from daemon import secret_store as names
from daemon.clock import Clock, last_midnight_et, next_midnight_et
from daemon.errors import LOGIN_COMMAND, BrokerError, ErrorCode, InvalidRequest, SessionError
from daemon.secret_store import SecretStore
from daemon.upstream import AccessToken, ConsumerCredentials, OAuthProblem, RequestToken, Upstream

log = logging.getLogger(__name__)

T = TypeVar("T")

REQUEST_TOKEN_LIFETIME = 5 * 60.0
_VERIFIER = re.compile(r"^[A-Za-z0-9]{1,64}$")


class SessionState(enum.Enum):
    NO_CREDENTIALS = "NO_CREDENTIALS"
    NEEDS_LOGIN = "NEEDS_LOGIN"
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


_STATE_ERROR = {
    SessionState.NO_CREDENTIALS: ErrorCode.NO_CREDENTIALS,
    SessionState.NEEDS_LOGIN: ErrorCode.NOT_LOGGED_IN,
    SessionState.INACTIVE: ErrorCode.SESSION_INACTIVE,
    SessionState.EXPIRED: ErrorCode.SESSION_EXPIRED,
    SessionState.REVOKED: ErrorCode.SESSION_REVOKED,
}

_STATE_DETAIL = {
    SessionState.NO_CREDENTIALS: "no E*TRADE consumer key and secret are configured",
    SessionState.NEEDS_LOGIN: "not logged in to E*TRADE",
    SessionState.ACTIVE: "logged in to E*TRADE",
    SessionState.INACTIVE: "the E*TRADE session is idle and must be renewed",
    SessionState.EXPIRED: "the E*TRADE session expired at midnight US Eastern",
    SessionState.REVOKED: "the E*TRADE session was revoked",
}


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A snapshot of the session for status displays. Times are epoch seconds (None: unknown)."""

    state: SessionState
    detail: str
    fix_command: str
    last_upstream_call: float | None
    next_renewal: float | None
    expires_at: float | None
    logged_in_at: float | None


class SessionManager:
    """Owns consumer credentials, the pending login and the access token."""

    def __init__(
        self,
        *,
        upstream: Upstream,
        store: SecretStore | None,
        clock: Clock,
        consumer_override: ConsumerCredentials | None = None,
        store_problem: str | None = None,
    ) -> None:
        self._upstream = upstream
        self._store = store
        self._clock = clock
        self._consumer_override = consumer_override
        self._store_problem = store_problem
        self._consumer: ConsumerCredentials | None = None
        self._access: AccessToken | None = None
        self._pending: RequestToken | None = None
        self._state = SessionState.NO_CREDENTIALS
        self._reason = ""
        self._last_call: float | None = None
        self._login_lock = asyncio.Lock()

    # state -------------------------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        self._check_expiry()
        return self._state

    @property
    def consumer(self) -> ConsumerCredentials | None:
        return self._consumer

    def _set_state(self, new: SessionState, reason: str) -> None:
        if new is not self._state:
            log.info("session: %s -> %s (%s)", self._state.value, new.value, reason)
        self._state = new
        self._reason = reason

    def _expires_at(self) -> float | None:
        if self._access is None:
            return None
        return next_midnight_et(self._access.issued_at_ms / 1000.0)

    def _check_expiry(self) -> None:
        expires = self._expires_at()
        if expires is not None and self._state is SessionState.ACTIVE and self._clock.now() >= expires:
            self._set_state(SessionState.EXPIRED, "midnight US Eastern passed")

    def info(self) -> SessionInfo:
        state = self.state
        detail = _STATE_DETAIL[state]
        if state is SessionState.NO_CREDENTIALS and self._store_problem:
            detail = f"{detail}: {self._store_problem}"
        elif self._reason and state is not SessionState.ACTIVE:
            detail = f"{detail} ({self._reason})"
        fix = ""
        if state in _STATE_ERROR:
            fix = "etradectl auth setup" if state is SessionState.NO_CREDENTIALS else LOGIN_COMMAND
        return SessionInfo(
            state=state,
            detail=detail,
            fix_command=fix,
            last_upstream_call=self._last_call,
            next_renewal=None,
            expires_at=self._expires_at() if state is SessionState.ACTIVE else None,
            logged_in_at=self._access.issued_at_ms / 1000.0 if self._access else None,
        )

    def require_active(self) -> tuple[ConsumerCredentials, AccessToken]:
        """The credentials to sign with, or the SessionError that tells the human what to run."""
        state = self.state
        if state is SessionState.ACTIVE and self._consumer is not None and self._access is not None:
            return self._consumer, self._access
        info = self.info()
        code = _STATE_ERROR.get(state, ErrorCode.NOT_LOGGED_IN)
        hint = None
        if state is SessionState.NO_CREDENTIALS and self._store_problem:
            hint = ErrorCode.SECRET_STORE_UNAVAILABLE.hint
        raise SessionError(code, f"{info.detail}; run `{info.fix_command}`", hint=hint)

    # start-up ----------------------------------------------------------------------------

    async def load(self) -> None:
        """Read consumer credentials and any saved access token from the secret store."""
        consumer = self._consumer_override
        stored: dict[str, str | None] = {}
        if self._store is not None:
            try:
                stored = await self._upstream.run(self._read_store)
            except BrokerError as exc:
                self._store_problem = exc.message
                stored = {}
        if consumer is None and stored.get(names.CONSUMER_KEY) and stored.get(names.CONSUMER_SECRET):
            consumer = ConsumerCredentials(str(stored[names.CONSUMER_KEY]), str(stored[names.CONSUMER_SECRET]))
        self._consumer = consumer
        if consumer is None:
            self._set_state(SessionState.NO_CREDENTIALS, "no consumer key configured")
            return
        token, secret, issued = (
            stored.get(names.ACCESS_TOKEN),
            stored.get(names.ACCESS_TOKEN_SECRET),
            stored.get(names.ACCESS_TOKEN_ISSUED_AT),
        )
        if not (token and secret and issued and issued.isdigit()):
            self._set_state(SessionState.NEEDS_LOGIN, "no saved session")
            return
        self._access = AccessToken(token, secret, int(issued))
        if int(issued) / 1000.0 < last_midnight_et(self._clock.now()):
            self._set_state(SessionState.EXPIRED, "the saved session was issued before the last midnight US Eastern")
        else:
            self._set_state(SessionState.ACTIVE, "saved session restored")

    def _read_store(self) -> dict[str, str | None]:
        assert self._store is not None
        return {name: self._store.get(name) for name in names.ALL_NAMES}

    # login -------------------------------------------------------------------------------

    async def begin_login(self) -> tuple[str, float]:
        """Get a request token; return the authorize URL and when the request token lapses."""
        consumer = self._consumer
        if consumer is None:
            self.require_active()  # raises the NO_CREDENTIALS error with its fix
            raise AssertionError("unreachable")
        async with self._login_lock:
            try:
                request = await self._upstream.run(self._upstream.http.request_token, consumer)
            except OAuthProblem as exc:
                raise _login_refused(exc, "the consumer key and secret") from None
            self._pending = RequestToken(request.token, request.secret, int(self._clock.now() * 1000))
            log.info("login: request token obtained; waiting for the verification code")
            url = self._upstream.http.authorize_url(consumer, request)
            return url, self._clock.now() + REQUEST_TOKEN_LIFETIME

    async def complete_login(self, verifier: str) -> SessionInfo:
        verifier = verifier.strip()
        if not _VERIFIER.match(verifier):
            raise InvalidRequest(
                ErrorCode.INVALID_ARGUMENT,
                "the verification code must be the letters and digits E*TRADE showed after you accepted",
            )
        async with self._login_lock:
            pending, consumer = self._pending, self._consumer
            if pending is None or consumer is None:
                raise SessionError(ErrorCode.LOGIN_NOT_STARTED, "no login is in progress")
            if self._clock.now() - pending.issued_at_ms / 1000.0 > REQUEST_TOKEN_LIFETIME:
                self._pending = None
                raise SessionError(ErrorCode.LOGIN_NOT_STARTED, "the login request expired (after 5 minutes)")
            try:
                access = await self._upstream.run(self._upstream.http.access_token, consumer, pending, verifier)
            except OAuthProblem as exc:
                raise _login_refused(exc, "the verification code") from None
            self._pending = None
            self._access = AccessToken(access.token, access.secret, int(self._clock.now() * 1000))
            await self._save_access(self._access)
            self._last_call = self._clock.now()
            self._set_state(SessionState.ACTIVE, "logged in")
            return self.info()

    async def logout(self) -> bool:
        """Revoke upstream (best effort) and forget the token. True when E*TRADE confirmed."""
        async with self._login_lock:
            access, consumer = self._access, self._consumer
            revoked = False
            if access is not None and consumer is not None:
                try:
                    await self._upstream.run(self._upstream.http.revoke, consumer, access)
                    revoked = True
                except (OAuthProblem, BrokerError) as exc:
                    log.warning(
                        "logout: E*TRADE did not confirm the revoke (%s); forgetting the token anyway",
                        type(exc).__name__,
                    )
            self._access = None
            self._pending = None
            await self._save_access(None)
            if consumer is None:
                self._set_state(SessionState.NO_CREDENTIALS, "logged out")
            else:
                self._set_state(SessionState.REVOKED if revoked else SessionState.NEEDS_LOGIN, "logged out")
            return revoked

    async def _save_access(self, access: AccessToken | None) -> None:
        store = self._store
        if store is None:
            return

        def write() -> None:
            if access is None:
                for name in (names.ACCESS_TOKEN, names.ACCESS_TOKEN_SECRET, names.ACCESS_TOKEN_ISSUED_AT):
                    store.delete(name)
            else:
                store.set(names.ACCESS_TOKEN, access.token)
                store.set(names.ACCESS_TOKEN_SECRET, access.secret)
                store.set(names.ACCESS_TOKEN_ISSUED_AT, str(access.issued_at_ms))

        try:
            await self._upstream.run(write)
        except BrokerError as exc:
            log.warning("session: could not save the access token (%s); it lasts until the daemon stops", exc.message)

    # calls -------------------------------------------------------------------------------

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(consumer, access, *args)`` on a worker thread with the current token."""
        consumer, access = self.require_active()
        try:
            result = await self._upstream.run(fn, consumer, access, *args)
        except OAuthProblem as exc:
            self._last_call = self._clock.now()
            raise self._on_oauth_problem(exc, access) from None
        self._last_call = self._clock.now()
        return result

    async def get_json(self, path: str, params: Mapping[str, str]) -> dict[str, Any] | None:
        """A signed GET of an E*TRADE v1 resource; None for HTTP 204."""
        return await self.call(self._upstream.http.get_json, path, params)

    def _on_oauth_problem(self, exc: OAuthProblem, access: AccessToken) -> SessionError:
        if access is not self._access:  # another call already replaced the token
            return SessionError(
                ErrorCode.NOT_LOGGED_IN, f"the E*TRADE session changed; try again or run `{LOGIN_COMMAND}`"
            )
        if exc.problem == "token_expired":
            self._set_state(SessionState.EXPIRED, "E*TRADE reports the token expired")
        elif exc.problem in ("consumer_key_rejected", "consumer_key_unknown"):
            self._set_state(SessionState.NEEDS_LOGIN, "E*TRADE rejected the consumer key")
            return SessionError(ErrorCode.LOGIN_FAILED, "E*TRADE rejected the consumer key (it may have expired)")
        else:
            self._set_state(SessionState.NEEDS_LOGIN, f"E*TRADE refused the token ({exc.problem})")
        return SessionError(_STATE_ERROR[self._state], f"{self.info().detail}; run `{LOGIN_COMMAND}`")


def _login_refused(exc: OAuthProblem, what: str) -> SessionError:
    return SessionError(ErrorCode.LOGIN_FAILED, f"E*TRADE refused {what} (oauth_problem={exc.problem})")
