"""The session's states, what each means to a human, the status snapshot, and the session errors.

Pure data: no I/O, no tokens. :class:`RefusedAtAuthentication` is how the signed-call path tells
order code that E*TRADE refused one request that is never re-sent.
"""

from __future__ import annotations

import asyncio
import enum
import re
from collections.abc import Callable
from dataclasses import dataclass

from broker_client.errors import LOGIN_COMMAND, ErrorCode, SessionError
from daemon.etrade.upstream import ConsumerCredentials, OAuthProblem

REQUEST_TOKEN_LIFETIME = 5 * 60.0
#: E*TRADE inactivates an access token after two hours without a request (reference §1.3).
IDLE_LIMIT = 2 * 3600.0
#: Renew this long after the last request unless configured otherwise: half an hour of margin.
DEFAULT_RENEW_AFTER = 90 * 60.0
SETUP_COMMAND = "etradectl auth setup"
#: The signed request that proves a renewal took effect (cheap, and every user has accounts).
VERIFY_PATH = "/v1/accounts/list"

VERIFIER = re.compile(r"^[A-Za-z0-9]{1,64}$")
CREDENTIAL = re.compile(r"^[\x21-\x7e]{8,256}$")  # printable ASCII, no spaces


class SessionState(enum.Enum):
    NO_CREDENTIALS = "NO_CREDENTIALS"
    NEEDS_LOGIN = "NEEDS_LOGIN"
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


#: States in which the daemon holds a token it can use (INACTIVE after one renewal).
LIVE_STATES = frozenset({SessionState.ACTIVE, SessionState.INACTIVE})

STATE_ERROR = {
    SessionState.NO_CREDENTIALS: ErrorCode.NO_CREDENTIALS,
    SessionState.NEEDS_LOGIN: ErrorCode.NOT_LOGGED_IN,
    SessionState.INACTIVE: ErrorCode.SESSION_INACTIVE,
    SessionState.EXPIRED: ErrorCode.SESSION_EXPIRED,
    SessionState.REVOKED: ErrorCode.SESSION_REVOKED,
}

STATE_DETAIL = {
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


def describe(state: SessionState, reason: str, store_problem: str | None) -> tuple[str, str]:
    """The status text of ``state`` and the command that fixes it ("" when nothing needs fixing)."""
    detail = STATE_DETAIL[state]
    if state is SessionState.NO_CREDENTIALS and store_problem:
        detail = f"{detail}: {store_problem}"
    elif reason and state is not SessionState.ACTIVE:
        detail = f"{detail} ({reason})"
    fix = ""
    if state in STATE_ERROR and state is not SessionState.INACTIVE:
        fix = SETUP_COMMAND if state is SessionState.NO_CREDENTIALS else LOGIN_COMMAND
    return detail, fix


def credentials_source(
    consumer: ConsumerCredentials | None,
    override: ConsumerCredentials | None,
    default: ConsumerCredentials | None,
) -> str:
    """Where the consumer key in use came from, for the status (never the key itself)."""
    if consumer is None:
        return ""
    if override is not None and consumer == override:
        return "the daemon's environment (ETRADE_CONSUMER_KEY/SECRET)"
    if default is not None and consumer == default:
        return "the emulator's built-in demo consumer"
    return "the secret store (etradectl auth setup)"


def state_error_of(info: SessionInfo, store_problem: str | None) -> SessionError:
    """The error that tells a caller why the session cannot serve and what to run."""
    code = STATE_ERROR.get(info.state, ErrorCode.NOT_LOGGED_IN)
    hint = None
    if info.state is SessionState.NO_CREDENTIALS and store_problem:
        hint = ErrorCode.SECRET_STORE_UNAVAILABLE.hint
    fix = info.fix_command or LOGIN_COMMAND
    return SessionError(code, f"{info.detail}; run `{fix}`", hint=hint)


Listener = Callable[[], None]
#: Called as ``listener(old, new, reason)`` after each change of state.
StateListener = Callable[["SessionState", "SessionState", str], None]


class RefusedAtAuthentication(SessionError):
    """E*TRADE answered 401 to a request sent with ``resend=False``; it was not sent again.

    E*TRADE checks a request's OAuth signature and token before acting on it, so a 401 means that
    request was refused; order code still confirms it against the order list. ``session_usable``:
    the session was repaired (renewed) and a new request could go out now.
    """

    def __init__(self, code: ErrorCode, message: str, *, hint: str | None = None, session_usable: bool = False) -> None:
        super().__init__(code, message, hint=hint)
        self.session_usable = session_usable


def changed_error() -> SessionError:
    return SessionError(ErrorCode.NOT_LOGGED_IN, f"the E*TRADE session changed; try again or run `{LOGIN_COMMAND}`")


def retrieve(future: asyncio.Future[None]) -> None:
    """Mark a shared renewal's exception as seen: its waiters may all have been cancelled."""
    if not future.cancelled():
        future.exception()


def login_refused(exc: OAuthProblem, what: str) -> SessionError:
    return SessionError(ErrorCode.LOGIN_FAILED, f"E*TRADE refused {what} (oauth_problem={exc.problem})")
