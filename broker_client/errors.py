"""One error vocabulary for every boundary of etrade-mcp.

Every failure a user or a model can meet has a stable :class:`ErrorCode`. The daemon raises
:class:`BrokerError` (or a subclass) from plain domain code; ``daemon/rpc_errors.py`` carries the
code across gRPC as a status plus trailing metadata (``broker_client/error_wire.py``, both ways);
``broker_client/client.py`` turns it back into the same exception class; the MCP proxy renders it as a tool error and ``etradectl`` as
``error:`` / ``hint:`` lines with the code's exit status. Nobody matches on message text.

Hierarchy::

    BrokerError
    ├── DaemonUnavailable      the daemon cannot be reached (client side only)
    ├── VersionMismatch        client and daemon speak incompatible API versions
    ├── SessionError           not logged in, expired, no credentials, login failed
    ├── InvalidRequest         bad input: symbols, counts, account keys, arguments
    ├── NotFound               an account, position, order or pending order does not exist
    ├── RateLimited            a limiter refused within the caller's deadline
    ├── UpstreamError          E*TRADE (or the emulator) failed or answered with an error
    ├── PolicyRefused          the safety policy refused (read-only, halted, limits, codes)
    └── InternalError          a bug: reported, never leaks internals

This module must stay import-light: the MCP proxy and the CLI import it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.Enum):
    """Broad category of a failure; decides the exception class, gRPC status and CLI exit code."""

    UNAVAILABLE = "unavailable"
    VERSION = "version"
    SESSION = "session"
    INVALID = "invalid"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    UPSTREAM = "upstream"
    POLICY = "policy"
    INTERNAL = "internal"


@dataclass(frozen=True)
class CodeSpec:
    """What a code means: its kind and the default next step for a human or a model."""

    kind: Kind
    hint: str


class ErrorCode(enum.StrEnum):
    """Stable, never-reused error codes. The string value is what crosses process boundaries."""

    # The daemon and the connection to it.
    DAEMON_UNAVAILABLE = "DAEMON_UNAVAILABLE"
    DAEMON_PERMISSION_DENIED = "DAEMON_PERMISSION_DENIED"
    DAEMON_TIMEOUT = "DAEMON_TIMEOUT"
    API_VERSION_MISMATCH = "API_VERSION_MISMATCH"
    # The E*TRADE session.
    NO_CREDENTIALS = "NO_CREDENTIALS"
    NOT_LOGGED_IN = "NOT_LOGGED_IN"
    SESSION_EXPIRED = "SESSION_EXPIRED"
    SESSION_INACTIVE = "SESSION_INACTIVE"
    SESSION_REVOKED = "SESSION_REVOKED"
    LOGIN_FAILED = "LOGIN_FAILED"
    LOGIN_NOT_STARTED = "LOGIN_NOT_STARTED"
    SECRET_STORE_UNAVAILABLE = "SECRET_STORE_UNAVAILABLE"
    # Bad input.
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    INVALID_SYMBOL = "INVALID_SYMBOL"
    TOO_MANY_SYMBOLS = "TOO_MANY_SYMBOLS"
    NO_SYMBOLS = "NO_SYMBOLS"
    INVALID_WATCHLIST = "INVALID_WATCHLIST"
    # The config file the daemon keeps (watchlists) cannot be used as it is.
    CONFIG_FILE_PROBLEM = "CONFIG_FILE_PROBLEM"
    # Things that do not exist.
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    POSITION_NOT_FOUND = "POSITION_NOT_FOUND"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    PENDING_NOT_FOUND = "PENDING_NOT_FOUND"
    WATCHLIST_NOT_FOUND = "WATCHLIST_NOT_FOUND"
    CHANNEL_NOT_FOUND = "CHANNEL_NOT_FOUND"
    TRANSACTION_NOT_FOUND = "TRANSACTION_NOT_FOUND"
    ALERT_NOT_FOUND = "ALERT_NOT_FOUND"
    # Throughput.
    RATE_LIMITED = "RATE_LIMITED"
    # E*TRADE.
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    UPSTREAM_TIMEOUT = "UPSTREAM_TIMEOUT"
    UPSTREAM_ERROR = "UPSTREAM_ERROR"
    UPSTREAM_REJECTED = "UPSTREAM_REJECTED"
    # The safety policy (orders).
    READ_ONLY = "READ_ONLY"
    TRADING_HALTED = "TRADING_HALTED"
    POLICY_VIOLATION = "POLICY_VIOLATION"
    CONFIRMATION_INVALID = "CONFIRMATION_INVALID"
    CONFIRMATION_EXPIRED = "CONFIRMATION_EXPIRED"
    CONFIRMATION_USED = "CONFIRMATION_USED"
    CONFIRMATION_VOIDED = "CONFIRMATION_VOIDED"
    TOO_MANY_PENDING = "TOO_MANY_PENDING"
    ORDER_VALUE_LIMIT = "ORDER_VALUE_LIMIT"
    PRICE_OUT_OF_BAND = "PRICE_OUT_OF_BAND"
    ACCOUNT_NOT_ALLOWED = "ACCOUNT_NOT_ALLOWED"
    SYMBOL_NOT_ALLOWED = "SYMBOL_NOT_ALLOWED"
    INSUFFICIENT_BUYING_POWER = "INSUFFICIENT_BUYING_POWER"
    INSUFFICIENT_SHARES = "INSUFFICIENT_SHARES"
    CONCENTRATION_LIMIT = "CONCENTRATION_LIMIT"
    DAILY_LIMIT = "DAILY_LIMIT"
    OUTCOME_UNRESOLVED = "OUTCOME_UNRESOLVED"
    PRICE_MOVED = "PRICE_MOVED"
    OPERATOR_ONLY = "OPERATOR_ONLY"
    OPERATOR_AUTHORITY_REQUIRED = "OPERATOR_AUTHORITY_REQUIRED"
    CALLER_UNIDENTIFIED = "CALLER_UNIDENTIFIED"
    # Orders upstream.
    ORDER_OUTCOME_UNKNOWN = "ORDER_OUTCOME_UNKNOWN"
    REQUEST_NOT_RECEIVED = "REQUEST_NOT_RECEIVED"
    ORDER_NOT_CANCELLABLE = "ORDER_NOT_CANCELLABLE"
    JOURNAL_ENTRY_NOT_FOUND = "JOURNAL_ENTRY_NOT_FOUND"
    # Running etrade-mcp: the service manager and MCP client configuration (etradectl only).
    SERVICE_MANAGER_UNAVAILABLE = "SERVICE_MANAGER_UNAVAILABLE"
    SERVICE_COMMAND_FAILED = "SERVICE_COMMAND_FAILED"
    SERVICE_NOT_INSTALLED = "SERVICE_NOT_INSTALLED"
    CLIENT_CONFIG_INVALID = "CLIENT_CONFIG_INVALID"
    # Bugs.
    INTERNAL = "INTERNAL"

    @property
    def spec(self) -> CodeSpec:
        return _SPECS[self]

    @property
    def kind(self) -> Kind:
        return _SPECS[self].kind

    @property
    def hint(self) -> str:
        return _SPECS[self].hint


LOGIN_COMMAND = "etradectl auth login"

_SPECS: dict[ErrorCode, CodeSpec] = {
    ErrorCode.DAEMON_UNAVAILABLE: CodeSpec(
        Kind.UNAVAILABLE,
        "start the broker daemon: `etradectl service start` if you installed the service, else `etrade-daemon`; "
        "then check it with `etradectl status`",
    ),
    ErrorCode.DAEMON_PERMISSION_DENIED: CodeSpec(
        Kind.UNAVAILABLE,
        "the daemon's socket belongs to another user; run etradectl as the user that runs etrade-daemon",
    ),
    ErrorCode.DAEMON_TIMEOUT: CodeSpec(
        Kind.UNAVAILABLE, "the daemon did not answer in time; check `etradectl status` and the daemon's log"
    ),
    ErrorCode.API_VERSION_MISMATCH: CodeSpec(
        Kind.VERSION, "install the same etrade-mcp version for the daemon and its clients, then restart the daemon"
    ),
    ErrorCode.NO_CREDENTIALS: CodeSpec(
        Kind.SESSION, "store your E*TRADE consumer key and secret with `etradectl auth setup`"
    ),
    ErrorCode.NOT_LOGGED_IN: CodeSpec(Kind.SESSION, f"log in to E*TRADE with `{LOGIN_COMMAND}`"),
    ErrorCode.SESSION_EXPIRED: CodeSpec(
        Kind.SESSION, f"E*TRADE sessions end at midnight US Eastern; log in again with `{LOGIN_COMMAND}`"
    ),
    ErrorCode.SESSION_INACTIVE: CodeSpec(
        Kind.SESSION, f"the daemon could not renew the idle session; log in again with `{LOGIN_COMMAND}`"
    ),
    ErrorCode.SESSION_REVOKED: CodeSpec(Kind.SESSION, f"the session was revoked; log in again with `{LOGIN_COMMAND}`"),
    ErrorCode.LOGIN_FAILED: CodeSpec(
        Kind.SESSION,
        "check the consumer key and secret (`etradectl auth setup`) and the verification code, "
        f"then run `{LOGIN_COMMAND}` again",
    ),
    ErrorCode.LOGIN_NOT_STARTED: CodeSpec(
        Kind.SESSION, f"start the login first (or again, the request token lasts 5 minutes): `{LOGIN_COMMAND}`"
    ),
    ErrorCode.SECRET_STORE_UNAVAILABLE: CodeSpec(
        Kind.SESSION,
        "no OS keyring is available; unlock or install one (Secret Service, macOS Keychain), "
        "or opt in to the less safe 0600 file store: restart the daemon with ETRADE_SECRET_STORE=file "
        "(or give it ETRADE_CONSUMER_KEY/ETRADE_CONSUMER_SECRET), then run `etradectl auth setup`",
    ),
    ErrorCode.INVALID_ARGUMENT: CodeSpec(Kind.INVALID, "correct the argument and try again"),
    ErrorCode.INVALID_SYMBOL: CodeSpec(
        Kind.INVALID,
        "use a ticker symbol of 1-10 characters: a letter, then letters, digits, '.' or '-' (e.g. AAPL, BRK.B)",
    ),
    ErrorCode.TOO_MANY_SYMBOLS: CodeSpec(Kind.INVALID, "ask for at most 50 symbols per call; split the list"),
    ErrorCode.NO_SYMBOLS: CodeSpec(Kind.INVALID, "give at least one ticker symbol, e.g. AAPL"),
    ErrorCode.INVALID_WATCHLIST: CodeSpec(
        Kind.INVALID,
        "name watchlists with 1-32 letters, digits, '-' or '_' (starting with a letter or digit) "
        "and give each at most 50 ticker symbols",
    ),
    ErrorCode.CONFIG_FILE_PROBLEM: CodeSpec(
        Kind.INVALID,
        "fix the [watchlists] table of the config file by hand (its path is in the message), then try again",
    ),
    ErrorCode.UNKNOWN_ACCOUNT: CodeSpec(
        Kind.NOT_FOUND, "use an account_id_key returned by list_accounts (`etradectl accounts`)"
    ),
    ErrorCode.POSITION_NOT_FOUND: CodeSpec(
        Kind.NOT_FOUND, "the account holds no position in that symbol; see get_portfolio (`etradectl portfolio`)"
    ),
    ErrorCode.ORDER_NOT_FOUND: CodeSpec(Kind.NOT_FOUND, "use an order id returned by list_orders"),
    ErrorCode.PENDING_NOT_FOUND: CodeSpec(
        Kind.NOT_FOUND, "the pending order does not exist or was already used; preview the order again"
    ),
    ErrorCode.TRANSACTION_NOT_FOUND: CodeSpec(
        Kind.NOT_FOUND, "use a transaction_id returned by get_transactions (`etradectl transactions`)"
    ),
    ErrorCode.ALERT_NOT_FOUND: CodeSpec(Kind.NOT_FOUND, "use an alert_id returned by list_alerts (`etradectl alerts`)"),
    ErrorCode.WATCHLIST_NOT_FOUND: CodeSpec(
        Kind.NOT_FOUND, "see the configured watchlists with `etradectl watchlist list` (or the list_watchlists tool)"
    ),
    ErrorCode.CHANNEL_NOT_FOUND: CodeSpec(
        Kind.NOT_FOUND,
        "see the configured channels with `etradectl notify list`; add one as [[notifications.channels]] in "
        "config.toml and restart the daemon",
    ),
    ErrorCode.RATE_LIMITED: CodeSpec(Kind.RATE_LIMITED, "wait a moment and try again"),
    ErrorCode.UPSTREAM_UNAVAILABLE: CodeSpec(
        Kind.UPSTREAM, "E*TRADE is not available right now; try again in a minute"
    ),
    ErrorCode.UPSTREAM_TIMEOUT: CodeSpec(Kind.UPSTREAM, "E*TRADE did not answer in time; try again"),
    ErrorCode.UPSTREAM_ERROR: CodeSpec(
        Kind.UPSTREAM, "E*TRADE failed to answer; try again, and check `etradectl status`"
    ),
    ErrorCode.UPSTREAM_REJECTED: CodeSpec(Kind.UPSTREAM, "E*TRADE refused the request; read its message and adjust"),
    ErrorCode.READ_ONLY: CodeSpec(
        Kind.POLICY, "trading is disabled (read-only mode); set ETRADE_READ_ONLY=false and restart the daemon"
    ),
    ErrorCode.TRADING_HALTED: CodeSpec(
        Kind.POLICY, "trading is halted; the operator can resume with `etradectl resume`"
    ),
    ErrorCode.POLICY_VIOLATION: CodeSpec(Kind.POLICY, "the order breaks a safety limit; change the order"),
    ErrorCode.CONFIRMATION_INVALID: CodeSpec(
        Kind.POLICY, "ask the human for the confirmation code shown by `etradectl orders pending`"
    ),
    ErrorCode.CONFIRMATION_EXPIRED: CodeSpec(Kind.POLICY, "the pending order expired; preview the order again"),
    ErrorCode.CONFIRMATION_USED: CodeSpec(
        Kind.POLICY,
        "that confirmation was already used: the order was placed (or is being placed); check list_orders "
        "(`etradectl orders list`) and do not preview it again unless a second order is wanted",
    ),
    ErrorCode.CONFIRMATION_VOIDED: CodeSpec(
        Kind.POLICY, "the pending order was voided (too many wrong codes, or rejected); preview the order again"
    ),
    ErrorCode.TOO_MANY_PENDING: CodeSpec(
        Kind.POLICY,
        "nothing was sent: the human must first deal with what already waits for approval. Ask them to "
        "review it with `etradectl orders pending`, confirm what they want (`etradectl orders confirm ID`) and "
        "reject the rest (`etradectl orders reject ID`), or wait until those expire; then try again",
    ),
    ErrorCode.ORDER_VALUE_LIMIT: CodeSpec(
        Kind.POLICY, "make the order smaller, or raise ETRADE_MAX_ORDER_VALUE and restart the daemon"
    ),
    ErrorCode.PRICE_OUT_OF_BAND: CodeSpec(
        Kind.POLICY,
        "use a limit or stop price closer to the current quote (get_stock_quote); "
        "the band is set by ETRADE_PRICE_BAND_PERCENT",
    ),
    ErrorCode.ACCOUNT_NOT_ALLOWED: CodeSpec(
        Kind.POLICY, "trade in an account listed in ETRADE_ALLOWED_ACCOUNTS, or change that setting"
    ),
    ErrorCode.SYMBOL_NOT_ALLOWED: CodeSpec(
        Kind.POLICY, "the symbol is excluded by ETRADE_ALLOWED_SYMBOLS or ETRADE_BLOCKED_SYMBOLS"
    ),
    ErrorCode.INSUFFICIENT_BUYING_POWER: CodeSpec(
        Kind.POLICY, "make the order smaller; see the buying power with get_account_balance"
    ),
    ErrorCode.INSUFFICIENT_SHARES: CodeSpec(
        Kind.POLICY, "sell (or cover) at most the shares the account holds; see get_portfolio"
    ),
    ErrorCode.CONCENTRATION_LIMIT: CodeSpec(
        Kind.POLICY, "make the order smaller; the limit is ETRADE_MAX_POSITION_PERCENT of the account's value"
    ),
    ErrorCode.DAILY_LIMIT: CodeSpec(
        Kind.POLICY,
        "today's order limits are reached (ETRADE_MAX_DAILY_ORDERS, ETRADE_MAX_DAILY_VALUE); try again tomorrow",
    ),
    ErrorCode.OUTCOME_UNRESOLVED: CodeSpec(
        Kind.POLICY,
        "an earlier order for this symbol has an unknown outcome; the operator must check "
        "`etradectl orders journal` before another one is sent",
    ),
    ErrorCode.PRICE_MOVED: CodeSpec(
        Kind.POLICY,
        "nothing was sent: the market moved too far since the preview (ETRADE_PLACEMENT_DRIFT_PERCENT); "
        "look at the quote again (get_stock_quote) and preview a new order if it is still wanted",
    ),
    ErrorCode.OPERATOR_ONLY: CodeSpec(Kind.POLICY, "only the operator's etradectl may do this"),
    ErrorCode.OPERATOR_AUTHORITY_REQUIRED: CodeSpec(
        Kind.POLICY,
        "the daemon runs in protected mode: only root and its service user have operator authority; "
        "run the same etradectl command with sudo",
    ),
    ErrorCode.CALLER_UNIDENTIFIED: CodeSpec(
        Kind.POLICY,
        "the daemon runs in protected mode and serves only callers that identified themselves through its "
        "identity socket (etrade.sock.auth beside etrade.sock); use etradectl or etrade-mcp of the same version",
    ),
    ErrorCode.ORDER_OUTCOME_UNKNOWN: CodeSpec(
        Kind.UPSTREAM,
        "do NOT place the order again: it may have been placed. The daemon checks E*TRADE's order list and "
        "reports the outcome in `etradectl orders journal`; look at list_orders in a minute",
    ),
    ErrorCode.REQUEST_NOT_RECEIVED: CodeSpec(
        Kind.UPSTREAM,
        "E*TRADE refused the request before acting on it (its order list confirms nothing happened) and the "
        "session was repaired; the same approval can send it once more before it expires: call "
        "place_order_confirmed / cancel_order_confirmed again with the same code, or `etradectl orders confirm`",
    ),
    ErrorCode.ORDER_NOT_CANCELLABLE: CodeSpec(
        Kind.INVALID, "only OPEN orders can be cancelled; see the order's status with get_order_details"
    ),
    ErrorCode.JOURNAL_ENTRY_NOT_FOUND: CodeSpec(
        Kind.NOT_FOUND, "use an entry number shown by `etradectl orders journal`"
    ),
    ErrorCode.SERVICE_MANAGER_UNAVAILABLE: CodeSpec(
        Kind.UNAVAILABLE,
        "run `etrade-daemon` in the foreground (or under your own supervisor) instead; see systemd/README.md",
    ),
    ErrorCode.SERVICE_COMMAND_FAILED: CodeSpec(
        Kind.UNAVAILABLE, "read the service manager's message above, then `etradectl service logs`"
    ),
    ErrorCode.SERVICE_NOT_INSTALLED: CodeSpec(Kind.NOT_FOUND, "install the service with `etradectl service install`"),
    ErrorCode.CLIENT_CONFIG_INVALID: CodeSpec(
        Kind.INVALID,
        "fix the file by hand (a JSON object, with an object under mcpServers) or move it away, then run "
        "the command again; nothing was changed",
    ),
    ErrorCode.INTERNAL: CodeSpec(Kind.INTERNAL, "this is a bug in etrade-mcp; the daemon's log has the details"),
}


class BrokerError(Exception):
    """A failure with a stable code, a message for humans and models, and a next step.

    The message must never contain a secret (consumer secret, tokens, verifier, confirmation codes).
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint if hint is not None else code.hint
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.value!r}, {self.message!r})"


class DaemonUnavailable(BrokerError):
    """The daemon cannot be reached (not running, wrong socket, permissions, timeout)."""


class VersionMismatch(BrokerError):
    """The client and the daemon speak incompatible API major versions."""


class SessionError(BrokerError):
    """The E*TRADE session cannot serve the request until a human acts (login, credentials)."""


class InvalidRequest(BrokerError):
    """The request itself is wrong; the caller can fix it."""


class NotFound(BrokerError):
    """The named account, position, order or pending order does not exist."""


class RateLimited(BrokerError):
    """A rate limiter refused within the caller's deadline; ``retry_after`` says when to retry."""


class UpstreamError(BrokerError):
    """E*TRADE failed or refused; the message carries E*TRADE's own words where it gave any."""


class PolicyRefused(BrokerError):
    """The safety policy refused the request."""


class InternalError(BrokerError):
    """A bug. The message is generic; details go to the daemon's log only."""


_CLASS_BY_KIND: dict[Kind, type[BrokerError]] = {
    Kind.UNAVAILABLE: DaemonUnavailable,
    Kind.VERSION: VersionMismatch,
    Kind.SESSION: SessionError,
    Kind.INVALID: InvalidRequest,
    Kind.NOT_FOUND: NotFound,
    Kind.RATE_LIMITED: RateLimited,
    Kind.UPSTREAM: UpstreamError,
    Kind.POLICY: PolicyRefused,
    Kind.INTERNAL: InternalError,
}


def make_error(
    code: ErrorCode, message: str, *, hint: str | None = None, retry_after: float | None = None
) -> BrokerError:
    """Build the exception class that matches ``code``'s kind."""
    return _CLASS_BY_KIND[code.kind](code, message, hint=hint, retry_after=retry_after)


def parse_code(value: str) -> ErrorCode:
    """Map a code received from another process to an :class:`ErrorCode` (unknown → INTERNAL)."""
    try:
        return ErrorCode(value)
    except ValueError:
        return ErrorCode.INTERNAL
