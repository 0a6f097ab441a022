"""The daemon's E*TRADE session: credentials, login, the access token and its state machine.

Only this module touches tokens. Every upstream call that needs a token goes through
:meth:`SessionManager.call`, which checks the state first, records the time of the call and turns
E*TRADE's 401 ``oauth_problem`` answers into state changes and :class:`SessionError`\\ s that name the
command that fixes them. Transitions are logged (``session: ACTIVE -> EXPIRED (...)``), never with a
secret.

States (``SessionState``)::

    NO_CREDENTIALS --auth setup--> NEEDS_LOGIN --login--> ACTIVE <--renew-- INACTIVE
                                        ^                   |  \\--2 h without a request--^
                                        |                   +--00:00 America/New_York--> EXPIRED
                                        +--E*TRADE refuses--+--logout--> REVOKED

Time. Every judgement is made on the injected :class:`~daemon.clock.Clock` (the host's clock in
production and sandbox, the emulator's clock in the emulator environment):

- a token dies at the first 00:00 America/New_York after it was issued (zoneinfo, so DST days
  are 23 or 25 hours long); a saved token issued before the last midnight loads as EXPIRED;
- E*TRADE inactivates a token after two hours without a request (:data:`IDLE_LIMIT`). The daemon
  knows when it last reached E*TRADE with the token (the *last activity*: login, renewal, or
  the start of the last call E*TRADE answered) and reports INACTIVE two hours after it. After a
  restart the last activity is unknown; the token's issue time is used, a safe lower bound;
- the renewal job renews ``renew_after`` seconds after the last activity (default 90 minutes,
  well under two hours); :attr:`SessionInfo.next_renewal` says when.

Renewal is single-flight: however many calls find the token INACTIVE, or receive a
``token_rejected`` for it, at the same moment, they share one ``renew_access_token`` request and
proceed with the same immutable token snapshot once it succeeds. A token is never half-updated:
:class:`~daemon.upstream.AccessToken` is frozen and replaced as a whole.

401 handling (never a loop): ``token_rejected`` on a token the daemon believed usable may mean
"merely idle", so the call waits for one (shared) renewal and is retried once; a second refusal,
or a refused renewal, means ``NEEDS_LOGIN``. ``token_expired`` means ``EXPIRED`` at once (renew
cannot revive it). A token that can no longer work is deleted from the secret store.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from broker_client.errors import (
    LOGIN_COMMAND,
    BrokerError,
    ErrorCode,
    InvalidRequest,
    SessionError,
    UpstreamError,
)
from daemon import secret_store as names
from daemon.clock import Clock, last_midnight_et, next_midnight_et
from daemon.etrade.upstream import (
    AccessToken,
    ConsumerCredentials,
    EtradeApiError,
    OAuthProblem,
    RequestToken,
    Upstream,
)
from daemon.secret_store import SecretStore

log = logging.getLogger(__name__)

T = TypeVar("T")

REQUEST_TOKEN_LIFETIME = 5 * 60.0
#: E*TRADE inactivates an access token after two hours without a request (reference §1.3).
IDLE_LIMIT = 2 * 3600.0
#: Renew this long after the last request unless configured otherwise: half an hour of margin.
DEFAULT_RENEW_AFTER = 90 * 60.0
SETUP_COMMAND = "etradectl auth setup"
#: The signed request that proves a renewal took effect (cheap, and every user has accounts).
VERIFY_PATH = "/v1/accounts/list"

_VERIFIER = re.compile(r"^[A-Za-z0-9]{1,64}$")
_CREDENTIAL = re.compile(r"^[\x21-\x7e]{8,256}$")  # printable ASCII, no spaces


class SessionState(enum.Enum):
    NO_CREDENTIALS = "NO_CREDENTIALS"
    NEEDS_LOGIN = "NEEDS_LOGIN"
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


#: States in which the daemon holds a token it can use (INACTIVE after one renewal).
LIVE_STATES = frozenset({SessionState.ACTIVE, SessionState.INACTIVE})

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
    SessionState.INACTIVE: "the E*TRADE session is idle; the daemon renews it on the next request",
    SessionState.EXPIRED: "the E*TRADE session expired at midnight US Eastern",
    SessionState.REVOKED: "the E*TRADE session was revoked (logged out)",
}


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A snapshot of the session for status displays. Times are epoch seconds on the daemon's clock
    (None: unknown or not applicable)."""

    state: SessionState
    detail: str
    fix_command: str
    last_upstream_call: float | None
    next_renewal: float | None
    #: The midnight ET that ends (or ended) the current token.
    expires_at: float | None
    logged_in_at: float | None
    #: The daemon's clock when the snapshot was taken: countdowns are relative to it.
    as_of: float = 0.0
    state_reason: str = ""
    state_since: float | None = None
    #: When E*TRADE will consider the token idle if nothing reaches it before.
    inactive_at: float | None = None
    last_renewal: float | None = None
    last_renewal_result: str = ""
    login_reminder: str = ""
    secret_store: str = ""
    credentials_source: str = ""
    renew_after_idle: float = DEFAULT_RENEW_AFTER


Listener = Callable[[], None]
#: Called as ``listener(old, new, reason)`` after each change of state.
StateListener = Callable[["SessionState", "SessionState", str], None]


class SessionManager:
    """Owns consumer credentials, the pending login, the access token and its state."""

    def __init__(
        self,
        *,
        upstream: Upstream,
        store: SecretStore | None,
        clock: Clock,
        consumer_override: ConsumerCredentials | None = None,
        consumer_default: ConsumerCredentials | None = None,
        store_problem: str | None = None,
        renew_after: float = DEFAULT_RENEW_AFTER,
    ) -> None:
        """``consumer_override`` (ETRADE_CONSUMER_KEY/SECRET) beats the stored credentials, which beat
        ``consumer_default`` (the emulator's built-in demo consumer)."""
        if not 0 < renew_after < IDLE_LIMIT:
            raise ValueError("renew_after must be between 0 and two hours")
        self._upstream = upstream
        self._store = store
        self._clock = clock
        self._consumer_override = consumer_override
        self._consumer_default = consumer_default
        self._store_problem = store_problem
        self.renew_after = renew_after
        self._consumer: ConsumerCredentials | None = None
        self._access: AccessToken | None = None
        self._issued_at: float | None = None
        self._pending: RequestToken | None = None
        self._state = SessionState.NO_CREDENTIALS
        self._reason = ""
        self._state_since: float | None = None
        self._last_call: float | None = None
        self._last_activity: float | None = None
        self._last_renewal: float | None = None
        self._last_renewal_result = ""
        self._reminder = ""
        self._login_lock = asyncio.Lock()
        self._renewal: asyncio.Future[None] | None = None
        self._renew_epoch = 0
        self._listeners: list[Listener] = []
        self._state_listeners: list[StateListener] = []

    # state -------------------------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        self._refresh_state()
        return self._state

    @property
    def consumer(self) -> ConsumerCredentials | None:
        return self._consumer

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def overridden_by_environment(self) -> bool:
        """True when ETRADE_CONSUMER_KEY/SECRET (or the emulator's built-in pair) are in use."""
        return self._consumer_override is not None

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener()`` after every state change, login and renewal (the scheduler re-arms)."""
        self._listeners.append(listener)

    def add_state_listener(self, listener: StateListener) -> None:
        """Call ``listener(old, new, reason)`` after each change of state (reasons carry no secrets)."""
        self._state_listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            try:
                listener()
            except Exception:  # a listener's bug must not break the session
                log.exception("session: a state listener failed")

    def _set_state(self, new: SessionState, reason: str) -> None:
        old = self._state
        self._reason = reason
        if new is old:
            return
        self._state = new
        self._state_since = self._clock.now()
        log.info("session: %s -> %s (%s)", old.value, new.value, reason)
        if new is SessionState.ACTIVE:
            self._reminder = ""
        for state_listener in self._state_listeners:
            try:
                state_listener(old, new, reason)
            except Exception:  # a listener's bug must not break the session
                log.exception("session: a state listener failed")
        self._changed()

    def _refresh_state(self) -> None:
        """Apply what the clock alone decides: midnight ET expiry, two hours of idleness."""
        if self._state not in LIVE_STATES or self._issued_at is None:
            return
        now = self._clock.now()
        if now >= next_midnight_et(self._issued_at):
            self._set_state(SessionState.EXPIRED, "midnight US Eastern passed")
        elif (
            self._state is SessionState.ACTIVE
            and self._last_activity is not None
            and now - self._last_activity >= IDLE_LIMIT
        ):
            self._set_state(SessionState.INACTIVE, "no request reached E*TRADE for two hours")

    def expires_at(self) -> float | None:
        """The midnight ET that ends (or ended) the current token."""
        return None if self._issued_at is None else next_midnight_et(self._issued_at)

    def next_renewal_at(self) -> float | None:
        """When the renewal job should renew: ``renew_after`` after the last activity (if still live)."""
        state = self.state
        if state not in LIVE_STATES or self._last_activity is None:
            return None
        if state is SessionState.INACTIVE:
            return self._clock.now()
        due = self._last_activity + self.renew_after
        expires = self.expires_at()
        return None if expires is not None and due >= expires else due

    def set_reminder(self, text: str) -> None:
        """Show a "log in" reminder in the status until the next login."""
        self._reminder = text

    def info(self) -> SessionInfo:
        state = self.state
        detail = _STATE_DETAIL[state]
        if state is SessionState.NO_CREDENTIALS and self._store_problem:
            detail = f"{detail}: {self._store_problem}"
        elif self._reason and state is not SessionState.ACTIVE:
            detail = f"{detail} ({self._reason})"
        fix = ""
        if state in _STATE_ERROR and state is not SessionState.INACTIVE:
            fix = SETUP_COMMAND if state is SessionState.NO_CREDENTIALS else LOGIN_COMMAND
        live = state in LIVE_STATES
        return SessionInfo(
            state=state,
            detail=detail,
            fix_command=fix,
            last_upstream_call=self._last_call,
            next_renewal=self.next_renewal_at(),
            expires_at=self.expires_at() if state in LIVE_STATES | {SessionState.EXPIRED} else None,
            logged_in_at=self._issued_at if state in LIVE_STATES | {SessionState.EXPIRED} else None,
            as_of=self._clock.now(),
            state_reason=self._reason,
            state_since=self._state_since,
            inactive_at=self._last_activity + IDLE_LIMIT if live and self._last_activity is not None else None,
            last_renewal=self._last_renewal,
            last_renewal_result=self._last_renewal_result,
            login_reminder=self._reminder,
            secret_store=self._store_description(),
            credentials_source=self._credentials_source(),
            renew_after_idle=self.renew_after,
        )

    def _store_description(self) -> str:
        if self._store is not None:
            return self._store.description
        return f"none: {self._store_problem}" if self._store_problem else "none"

    def _credentials_source(self) -> str:
        if self._consumer is None:
            return ""
        if self._consumer_override is not None and self._consumer == self._consumer_override:
            return "the daemon's environment (ETRADE_CONSUMER_KEY/SECRET)"
        if self._consumer_default is not None and self._consumer == self._consumer_default:
            return "the emulator's built-in demo consumer"
        return "the secret store (etradectl auth setup)"

    def state_error(self) -> SessionError:
        """The error that tells a caller why the session cannot serve and what to run."""
        info = self.info()
        code = _STATE_ERROR.get(info.state, ErrorCode.NOT_LOGGED_IN)
        hint = None
        if info.state is SessionState.NO_CREDENTIALS and self._store_problem:
            hint = ErrorCode.SECRET_STORE_UNAVAILABLE.hint
        fix = info.fix_command or LOGIN_COMMAND
        return SessionError(code, f"{info.detail}; run `{fix}`", hint=hint)

    async def usable_access(self) -> AccessToken:
        """The current token if the session can serve — ACTIVE, or INACTIVE (renewed on the next
        request) — else the SessionError that tells the human what to run. A token found dead at
        midnight is deleted on the way, as the call path does."""
        state = self.state
        if state in (SessionState.ACTIVE, SessionState.INACTIVE) and self._consumer and self._access is not None:
            return self._access
        await self.expire_if_due()
        raise self.state_error()

    def require_active(self) -> tuple[ConsumerCredentials, AccessToken]:
        """The credentials to sign with, or the SessionError that tells the human what to run."""
        if self.state is SessionState.ACTIVE and self._consumer is not None and self._access is not None:
            return self._consumer, self._access
        raise self.state_error()

    # start-up and credentials ------------------------------------------------------------

    async def load(self) -> None:
        """Read consumer credentials and any saved access token from the secret store."""
        stored: dict[str, str | None] = {}
        if self._store is not None:
            try:
                stored = await self._upstream.run(self._read_store)
            except BrokerError as exc:
                self._store_problem = exc.message
                stored = {}
        consumer = self._consumer_override
        if consumer is None and stored.get(names.CONSUMER_KEY) and stored.get(names.CONSUMER_SECRET):
            consumer = ConsumerCredentials(str(stored[names.CONSUMER_KEY]), str(stored[names.CONSUMER_SECRET]))
        self._consumer = consumer or self._consumer_default
        consumer = self._consumer
        if consumer is None:
            self._set_state(SessionState.NO_CREDENTIALS, "no consumer key configured")
            return
        token, secret, issued = (
            stored.get(names.ACCESS_TOKEN),
            stored.get(names.ACCESS_TOKEN_SECRET),
            stored.get(names.ACCESS_TOKEN_ISSUED_AT),
        )
        issued_at = int(issued) / 1000.0 if issued and issued.isdigit() else None
        before_last_midnight = issued_at is not None and issued_at < last_midnight_et(self._clock.now())
        if issued_at is not None and before_last_midnight:
            self._issued_at = issued_at
            self._set_state(SessionState.EXPIRED, "the saved session was issued before the last midnight US Eastern")
            if token or secret:
                await self._delete_token_from_store(keep_issued=True)
            return
        if not (token and secret and issued_at is not None):
            self._set_state(SessionState.NEEDS_LOGIN, "no saved session")
            return
        self._access = AccessToken(token, secret, int(issued_at * 1000))
        self._issued_at = issued_at
        # When the old daemon last reached E*TRADE is unknown; the issue time is a safe lower bound.
        self._last_activity = issued_at
        if self._clock.now() - issued_at >= IDLE_LIMIT:
            self._set_state(
                SessionState.INACTIVE, "saved session restored; it may have been idle, so it is renewed before use"
            )
        else:
            self._set_state(SessionState.ACTIVE, "saved session restored")

    def _read_store(self) -> dict[str, str | None]:
        assert self._store is not None
        return {name: self._store.get(name) for name in names.ALL_NAMES}

    async def set_credentials(self, key: str, secret: str) -> SessionInfo:
        """Store the consumer key and secret (``etradectl auth setup``) and reload the session state.

        A different key invalidates the current token (tokens belong to a consumer).
        """
        key, secret = key.strip(), secret.strip()
        for what, value in (("consumer key", key), ("consumer secret", secret)):
            if not _CREDENTIAL.match(value):
                raise InvalidRequest(
                    ErrorCode.INVALID_ARGUMENT,
                    f"the {what} must be 8-256 printable characters without spaces, as E*TRADE issued it",
                )
        store = self._store
        if store is None:
            problem = self._store_problem or "no secret store is configured"
            raise SessionError(
                ErrorCode.SECRET_STORE_UNAVAILABLE, f"the daemon cannot store the consumer credentials: {problem}"
            )

        def write() -> None:
            store.set(names.CONSUMER_KEY, key)
            store.set(names.CONSUMER_SECRET, secret)

        async with self._login_lock:
            await self._upstream.run(write)
            log.info("credentials: stored the consumer key and secret in %s", store.description)
            new = ConsumerCredentials(key, secret)
            if self._consumer_override is not None:
                log.warning(
                    "credentials: ETRADE_CONSUMER_KEY/SECRET in the daemon's environment still take precedence; "
                    "unset them and restart the daemon to use the stored ones"
                )
                return self.info()
            if self._consumer is not None and self._consumer.key == key and self._consumer.secret == secret:
                return self.info()
            self._consumer = new
            self._pending = None
            # Tokens belong to a consumer: a new key makes the current one useless.
            await self._forget_token(SessionState.NEEDS_LOGIN, "consumer credentials stored; log in next")
            return self.info()

    # login -------------------------------------------------------------------------------

    async def begin_login(self) -> tuple[str, float]:
        """Get a request token; return the authorize URL and when the request token lapses.

        Works in every state that has consumer credentials (also ACTIVE and EXPIRED): a completed
        login replaces the current token.
        """
        consumer = self._consumer
        if consumer is None:
            raise self.state_error()
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
            now = self._clock.now()
            self._pending = None
            self._access = AccessToken(access.token, access.secret, int(now * 1000))
            self._issued_at = now
            self._last_call = now
            self._last_activity = now
            await self._save_access(self._access)
            was = self._state
            self._set_state(SessionState.ACTIVE, "logged in")
            self._reminder = ""
            if was is SessionState.ACTIVE:
                self._changed()  # a login while ACTIVE changes no state but moves the renewal
            return self.info()

    async def logout(self, *, forget_credentials: bool = False) -> bool:
        """Revoke upstream (best effort) and delete the token locally. True when E*TRADE confirmed.

        ``forget_credentials`` also deletes the stored consumer key and secret.
        """
        async with self._login_lock:
            access, consumer = self._access, self._consumer
            revoked = False
            if access is not None and consumer is not None and self.state in LIVE_STATES:
                try:
                    await self._upstream.run(self._upstream.http.revoke, consumer, access)
                    revoked = True
                except (OAuthProblem, BrokerError) as exc:
                    log.warning(
                        "logout: E*TRADE did not confirm the revoke (%s); deleting the token anyway",
                        getattr(exc, "problem", type(exc).__name__),
                    )
            self._access = None
            self._issued_at = None
            self._pending = None
            self._last_activity = None
            await self._delete_token_from_store(keep_issued=False)
            if forget_credentials:
                await self._delete_credentials_from_store()
                if self._consumer_override is None:
                    self._consumer = self._consumer_default
            if self._consumer is None:
                self._set_state(SessionState.NO_CREDENTIALS, "logged out; consumer credentials deleted")
            elif revoked:
                self._set_state(SessionState.REVOKED, "logged out; E*TRADE revoked the token")
            else:
                self._set_state(SessionState.NEEDS_LOGIN, "logged out")
            return revoked

    # the store ---------------------------------------------------------------------------

    async def _save_access(self, access: AccessToken) -> None:
        store = self._store
        if store is None:
            return

        def write() -> None:
            store.set(names.ACCESS_TOKEN, access.token)
            store.set(names.ACCESS_TOKEN_SECRET, access.secret)
            store.set(names.ACCESS_TOKEN_ISSUED_AT, str(access.issued_at_ms))

        try:
            await self._upstream.run(write)
        except BrokerError as exc:
            log.warning("session: could not save the access token (%s); it lasts until the daemon stops", exc.message)

    async def _delete_token_from_store(self, *, keep_issued: bool) -> None:
        """Delete a token that can no longer work. ``keep_issued`` remembers that a session existed,
        so a restart after midnight reports EXPIRED rather than "never logged in"."""
        store = self._store
        if store is None:
            return
        doomed = [names.ACCESS_TOKEN, names.ACCESS_TOKEN_SECRET]
        if not keep_issued:
            doomed.append(names.ACCESS_TOKEN_ISSUED_AT)

        def delete() -> None:
            for name in doomed:
                store.delete(name)

        try:
            await self._upstream.run(delete)
        except BrokerError as exc:
            log.warning("session: could not delete the dead token from the secret store (%s)", exc.message)

    async def _delete_credentials_from_store(self) -> None:
        store = self._store
        if store is None:
            return

        def delete() -> None:
            store.delete(names.CONSUMER_KEY)
            store.delete(names.CONSUMER_SECRET)

        try:
            await self._upstream.run(delete)
            log.info("credentials: deleted the consumer key and secret from %s", store.description)
        except BrokerError as exc:
            log.warning("credentials: could not delete the consumer credentials (%s)", exc.message)

    async def _forget_token(self, state: SessionState, reason: str) -> None:
        """The token is dead: drop it from memory and the store, and enter ``state``."""
        self._access = None
        self._last_activity = None
        if state is not SessionState.EXPIRED:
            self._issued_at = None
        self._set_state(state, reason)
        await self._delete_token_from_store(keep_issued=state is SessionState.EXPIRED)

    async def expire_if_due(self) -> bool:
        """At or after midnight ET: make the session EXPIRED and delete the dead token. True if it did."""
        if self.state is SessionState.EXPIRED and self._access is not None:
            await self._forget_token(SessionState.EXPIRED, self._reason or "midnight US Eastern passed")
            return True
        return False

    # renewal -----------------------------------------------------------------------------

    async def renew(self, reason: str, *, verify: bool) -> None:
        """Renew the token now (sharing any renewal already in flight).

        With ``verify``, prove it took effect with a signed request (E*TRADE has been seen to
        answer 200 to a renewal that changed nothing). Raises SessionError if the session cannot
        be kept alive without a human, UpstreamError if E*TRADE could not be reached.
        """
        if self.state not in LIVE_STATES:
            raise self.state_error()
        await self._renew_shared(None, reason)
        if verify:
            consumer, access = self.require_active()
            try:
                await self._send(self._upstream.http.get_json, consumer, access, (VERIFY_PATH, {}))
            except OAuthProblem as exc:
                self._last_renewal_result = f"renewed, but the check was refused ({exc.problem})"
                raise await self._fail(exc, access, after_renewal=True) from None
            self._last_renewal_result = "renewed and verified by a signed request"
            log.info("session: the renewal was verified by a signed request")

    async def _renew_shared(self, seen_epoch: int | None, reason: str) -> None:
        """Join the renewal in flight or start one. ``seen_epoch``: the renewal count when the
        caller's failed request was signed; if a renewal finished since, there is nothing to do."""
        if seen_epoch is not None and seen_epoch != self._renew_epoch and self.state is SessionState.ACTIVE:
            return
        if self._renewal is None or self._renewal.done():
            self._renewal = asyncio.ensure_future(self._renew_once(reason))
            self._renewal.add_done_callback(_retrieve)
        # Shielded: a caller whose deadline expires must not cancel the renewal the others wait for.
        await asyncio.shield(self._renewal)

    async def _renew_once(self, reason: str) -> None:
        consumer, access = self._consumer, self._access
        if consumer is None or access is None:
            raise self.state_error()
        started = self._clock.now()
        log.info("session: renewing the access token (%s)", reason)
        try:
            await self._upstream.run(self._upstream.http.renew, consumer, access)
        except OAuthProblem as exc:
            if access is not self._access:
                return  # a login replaced the token meanwhile: the new one is fresh, callers retry with it
            self._last_renewal = started
            self._last_renewal_result = f"refused by E*TRADE ({exc.problem})"
            if exc.problem == "token_expired":
                await self._forget_token(SessionState.EXPIRED, "E*TRADE reports the token expired")
            else:
                await self._forget_token(
                    SessionState.NEEDS_LOGIN, f"E*TRADE refused to renew the token ({exc.problem})"
                )
            raise self.state_error() from None
        except BrokerError as exc:
            self._last_renewal = started
            self._last_renewal_result = f"failed: {exc.message}"
            log.warning("session: the renewal failed (%s); the next request tries again", exc.message)
            raise
        self._last_renewal = started
        self._last_renewal_result = "renewed"
        if access is self._access:
            self._last_activity = max(self._last_activity or started, started)
            self._renew_epoch += 1
            self._set_state(SessionState.ACTIVE, "renewed")
            self._changed()

    # calls -------------------------------------------------------------------------------

    async def call(self, fn: Callable[..., T], *args: Any, resend: bool = True) -> T:
        """Run ``fn(consumer, access, *args)`` on a worker thread with the current token.

        An INACTIVE token is renewed first (one shared renewal). A ``token_rejected`` answer for a
        token believed usable gets one shared renewal and one retry; anything else ends the call
        with the state's error and fix.

        ``resend=False`` (order placement and cancels): the request is sent at most once, whatever
        the answer. After a 401 the session is still repaired (renewed, or its state recorded), and
        :class:`RefusedAtAuthentication` tells the caller that E*TRADE refused that one request.
        """
        if self.state is SessionState.INACTIVE:
            await self._renew_shared(None, "idle for two hours")
        elif self.state is SessionState.EXPIRED and self._access is not None:
            await self.expire_if_due()
        consumer, access = self.require_active()
        epoch = self._renew_epoch
        try:
            return await self._send(fn, consumer, access, args)
        except OAuthProblem as exc:
            problem = exc
        if not resend:
            raise await self._refused_unsent(problem, access, epoch) from None
        if access is not self._access:
            if self.state is not SessionState.ACTIVE:  # someone already found the token dead
                raise self.state_error() from None
            # A login replaced the token while this call was in flight: retry with the new one.
        elif problem.problem == "token_rejected" and self.state in LIVE_STATES:
            log.info("session: E*TRADE rejected the token; renewing once in case it is only idle")
            await self._renew_shared(epoch, "E*TRADE rejected the token; it may only be idle")
        else:
            raise await self._fail(problem, access) from None
        consumer, access = self.require_active()
        try:
            return await self._send(fn, consumer, access, args)
        except OAuthProblem as exc:
            raise await self._fail(exc, access, after_renewal=True) from None

    async def _refused_unsent(self, problem: OAuthProblem, access: AccessToken, epoch: int) -> RefusedAtAuthentication:
        """A request that must not be re-sent got a 401: repair the session, then say what happened."""
        said = f"E*TRADE refused the request's authentication (oauth_problem={problem.problem})"
        if access is not self._access:
            usable = self.state is SessionState.ACTIVE  # a login replaced the token meanwhile
        elif problem.problem == "token_rejected" and self.state in LIVE_STATES:
            log.info("session: E*TRADE rejected the token of a request that is never re-sent; renewing")
            try:
                await self._renew_shared(epoch, "E*TRADE rejected the token; it may only be idle")
            except BrokerError as exc:
                return RefusedAtAuthentication(exc.code, f"{said}; renewing the session failed: {exc.message}")
            usable = self.state is SessionState.ACTIVE
        else:
            error = await self._fail(problem, access)
            return RefusedAtAuthentication(error.code, f"{said}: {error.message}", hint=error.hint)
        if usable:
            return RefusedAtAuthentication(
                ErrorCode.NOT_LOGGED_IN, f"{said}; the session was renewed", session_usable=True
            )
        error = self.state_error()
        return RefusedAtAuthentication(error.code, f"{said}: {error.message}", hint=error.hint)

    async def _send(
        self, fn: Callable[..., T], consumer: ConsumerCredentials, access: AccessToken, args: tuple[Any, ...]
    ) -> T:
        started = self._clock.now()
        try:
            result = await self._upstream.run(fn, consumer, access, *args)
        except EtradeApiError as exc:
            if 400 <= exc.http_status < 500:  # E*TRADE authenticated the request before refusing it
                self._touch(access, started)
            raise
        self._touch(access, started)
        return result

    def _touch(self, access: AccessToken, started: float) -> None:
        """E*TRADE answered a request signed with ``access`` that left at ``started``."""
        self._last_call = max(self._last_call or started, started)
        if access is self._access:
            self._last_activity = max(self._last_activity or started, started)

    async def _fail(self, exc: OAuthProblem, access: AccessToken, *, after_renewal: bool = False) -> BrokerError:
        """Turn a 401 into a state change (if it concerns the current token) and the error to raise."""
        problem = exc.problem
        if problem == "timestamp_refused":
            return UpstreamError(
                ErrorCode.UPSTREAM_REJECTED,
                "E*TRADE refused the request's timestamp (oauth_problem=timestamp_refused): "
                "this computer's clock is more than five minutes off",
                hint="synchronise the system clock (NTP), then try again",
            )
        if problem == "nonce_used":
            return UpstreamError(ErrorCode.UPSTREAM_ERROR, "E*TRADE saw a repeated request nonce; try again")
        if access is not self._access:
            return self.state_error() if self.state is not SessionState.ACTIVE else _changed_error()
        if problem == "token_expired":
            await self._forget_token(SessionState.EXPIRED, "E*TRADE reports the token expired")
        elif problem in ("consumer_key_rejected", "consumer_key_unknown"):
            await self._forget_token(SessionState.NEEDS_LOGIN, "E*TRADE rejected the consumer key")
            return SessionError(ErrorCode.LOGIN_FAILED, "E*TRADE rejected the consumer key (it may have expired)")
        elif after_renewal:
            await self._forget_token(
                SessionState.NEEDS_LOGIN, f"E*TRADE still refused the token after a renewal ({problem})"
            )
        else:
            await self._forget_token(SessionState.NEEDS_LOGIN, f"E*TRADE refused the token ({problem})")
        return self.state_error()


class RefusedAtAuthentication(SessionError):
    """E*TRADE answered 401 to a request sent with ``resend=False``; it was not sent again.

    E*TRADE checks a request's OAuth signature and token before acting on it, so a 401 means that
    request was refused; order code still confirms it against the order list. ``session_usable``:
    the session was repaired (renewed) and a new request could go out now.
    """

    def __init__(self, code: ErrorCode, message: str, *, hint: str | None = None, session_usable: bool = False) -> None:
        super().__init__(code, message, hint=hint)
        self.session_usable = session_usable


def _changed_error() -> SessionError:
    return SessionError(ErrorCode.NOT_LOGGED_IN, f"the E*TRADE session changed; try again or run `{LOGIN_COMMAND}`")


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark a shared renewal's exception as seen: its waiters may all have been cancelled."""
    if not future.cancelled():
        future.exception()


def _login_refused(exc: OAuthProblem, what: str) -> SessionError:
    return SessionError(ErrorCode.LOGIN_FAILED, f"E*TRADE refused {what} (oauth_problem={exc.problem})")
