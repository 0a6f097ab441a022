"""Every exit status of etradectl, in one place. Scripts may branch on these; they never change meaning."""

from __future__ import annotations

from broker_client.errors import Kind

OK = 0
FAILURE = 1  # an unexpected failure or a bug
USAGE = 2  # bad command-line usage (argparse)
DAEMON_UNAVAILABLE = 3  # the daemon is not running or cannot be reached
SESSION = 4  # E*TRADE needs a human: credentials, login, expired session
INVALID = 5  # bad input, or something named does not exist
UPSTREAM = 6  # E*TRADE failed, refused, or rate-limited the request
POLICY = 7  # the safety policy refused (read-only, halted, limits, confirmation)
VERSION = 8  # etradectl and the daemon speak incompatible API versions
INTEGRITY = 9  # the audit log failed verification (an entry was modified or deleted)
INTERRUPTED = 130  # Ctrl-C

DESCRIPTIONS: dict[int, str] = {
    OK: "success",
    FAILURE: "unexpected failure (a bug; see the message and the daemon's log)",
    USAGE: "bad command-line usage",
    DAEMON_UNAVAILABLE: "the daemon is not running or its socket cannot be used",
    SESSION: "E*TRADE needs a human: set up credentials, log in, or log in again after expiry",
    INVALID: "bad input, or the named account, position or order does not exist",
    UPSTREAM: "E*TRADE failed, refused or rate-limited the request",
    POLICY: "the safety policy refused the request",
    VERSION: "etradectl and the daemon are incompatible versions",
    INTEGRITY: "the audit log failed verification (`etradectl audit verify`)",
    INTERRUPTED: "interrupted (Ctrl-C)",
}

BY_KIND: dict[Kind, int] = {
    Kind.UNAVAILABLE: DAEMON_UNAVAILABLE,
    Kind.VERSION: VERSION,
    Kind.SESSION: SESSION,
    Kind.INVALID: INVALID,
    Kind.NOT_FOUND: INVALID,
    Kind.RATE_LIMITED: UPSTREAM,
    Kind.UPSTREAM: UPSTREAM,
    Kind.POLICY: POLICY,
    Kind.INTERNAL: FAILURE,
}


def help_text() -> str:
    lines = ["exit status:"]
    lines.extend(f"  {code:<4} {text}" for code, text in sorted(DESCRIPTIONS.items()))
    return "\n".join(lines)
