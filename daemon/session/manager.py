"""The daemon's E*TRADE session: credentials, login, the access token and its state machine.

Only this package touches tokens (the secrets live in ``credentials``, the login handshake in ``login``, the
states and their text in ``state``). Every upstream call that needs a token goes through
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
:class:`~daemon.etrade.upstream.AccessToken` is frozen and replaced as a whole.

401 handling (never a loop): ``token_rejected`` on a token the daemon believed usable may mean
"merely idle", so the call waits for one (shared) renewal and is retried once; a second refusal,
or a refused renewal, means ``NEEDS_LOGIN``. ``token_expired`` means ``EXPIRED`` at once (renew
cannot revive it). A token that can no longer work is deleted from the secret store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from broker_client.errors import (
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
    Upstream,
)
from daemon.secret_store import SecretStore
from daemon.session.credentials import CredentialVault
from daemon.session.login import OAuthLogin, check_verifier
from daemon.session.state import (
    CREDENTIAL,
    DEFAULT_RENEW_AFTER,
    IDLE_LIMIT,
    LIVE_STATES,
    VERIFY_PATH,
    Listener,
    RefusedAtAuthentication,
    SessionInfo,
    SessionState,
    StateListener,
    changed_error,
    credentials_source,
    describe,
    retrieve,
    state_error_of,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


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
        self._vault = CredentialVault(store, store_problem)
        self._clock = clock
        self._consumer_override = consumer_override
        self._consumer_default = consumer_default
        self.renew_after = renew_after
        self._consumer: ConsumerCredentials | None = None
        self._access: AccessToken | None = None
        self._issued_at: float | None = None
        self._login = OAuthLogin(upstream, clock)
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

    def close(self) -> None:
        """Stop the secret store's thread (after the last call; like the HTTP pool, nothing queued runs)."""
        self._vault.close()

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
        detail, fix = describe(state, self._reason, self._vault.problem)
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
            secret_store=self._vault.description,
            credentials_source=credentials_source(self._consumer, self._consumer_override, self._consumer_default),
            renew_after_idle=self.renew_after,
        )

    def state_error(self) -> SessionError:
        """The error that tells a caller why the session cannot serve and what to run."""
        return state_error_of(self.info(), self._vault.problem)

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
        stored = await self._vault.read_all()
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
                await self._vault.delete_token(keep_issued=True)
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

    async def set_credentials(self, key: str, secret: str) -> SessionInfo:
        """Store the consumer key and secret (``etradectl auth setup``) and reload the session state.

        A different key invalidates the current token (tokens belong to a consumer).
        """
        key, secret = key.strip(), secret.strip()
        for what, value in (("consumer key", key), ("consumer secret", secret)):
            if not CREDENTIAL.match(value):
                raise InvalidRequest(
                    ErrorCode.INVALID_ARGUMENT,
                    f"the {what} must be 8-256 printable characters without spaces, as E*TRADE issued it",
                )
        store = self._vault.store
        if store is None:
            problem = self._vault.problem or "no secret store is configured"
            raise SessionError(
                ErrorCode.SECRET_STORE_UNAVAILABLE, f"the daemon cannot store the consumer credentials: {problem}"
            )

        async with self._login_lock:
            await self._vault.write_consumer(store, key, secret)
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
            self._login.forget()
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
            return await self._login.begin(consumer)

    async def complete_login(self, verifier: str) -> SessionInfo:
        verifier = check_verifier(verifier)
        async with self._login_lock:
            token, secret = await self._login.complete(self._consumer, verifier)
            now = self._clock.now()
            self._access = AccessToken(token, secret, int(now * 1000))
            self._issued_at = now
            self._last_call = now
            self._last_activity = now
            await self._vault.save_access(self._access)
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
            self._login.forget()
            self._last_activity = None
            await self._vault.delete_token(keep_issued=False)
            if forget_credentials:
                await self._vault.delete_credentials()
                if self._consumer_override is None:
                    self._consumer = self._consumer_default
            if self._consumer is None:
                self._set_state(SessionState.NO_CREDENTIALS, "logged out; consumer credentials deleted")
            elif revoked:
                self._set_state(SessionState.REVOKED, "logged out; E*TRADE revoked the token")
            else:
                self._set_state(SessionState.NEEDS_LOGIN, "logged out")
            return revoked

    async def _forget_token(self, state: SessionState, reason: str) -> None:
        """The token is dead: drop it from memory and the store, and enter ``state``."""
        self._access = None
        self._last_activity = None
        if state is not SessionState.EXPIRED:
            self._issued_at = None
        self._set_state(state, reason)
        await self._vault.delete_token(keep_issued=state is SessionState.EXPIRED)

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
            self._renewal.add_done_callback(retrieve)
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
            return self.state_error() if self.state is not SessionState.ACTIVE else changed_error()
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
