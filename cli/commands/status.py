"""``etradectl status``: the daemon and the E*TRADE session at a glance."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli import exit_codes
from cli.commands import add_command

if TYPE_CHECKING:
    from cli.main import Context


def register(commands: Any) -> None:
    parser = add_command(
        commands,
        "status",
        help="show the daemon, the E*TRADE session and the time it has left",
        description="Ask the daemon for its version, environment and E*TRADE session state.\n"
        "Exit status 0 when the session is active, 4 when a human must act (the fix is printed),\n"
        "3 when the daemon is not running.",
        examples="  etradectl status\n  etradectl --json status | jq .session.state\n"
        "  etradectl --json status | jq .performance   # caches, rate limits, retries",
    )
    parser.set_defaults(handler=run)


def countdown(until_unix_ms: int, now: float | None = None) -> str:
    """``in 5h 07m`` / ``in 12m`` / ``in 40s`` (or ``5h 07m ago``), relative to ``now`` (epoch s)."""
    seconds = int(until_unix_ms / 1000 - (time.time() if now is None else now))
    if seconds == 0:
        return "now"
    span = abs(seconds)
    hours, rest = divmod(span, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        text = f"{hours}h {minutes:02d}m"
    elif minutes:
        text = f"{minutes}m"
    else:
        text = f"{secs}s"
    return f"in {text}" if seconds > 0 else f"{text} ago"


def when(unix_ms: int) -> str:
    if not unix_ms:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(unix_ms / 1000))


def trading_text(status: Any) -> str:
    """The ``trading`` line: read-only, halted (by whom, since when, why) or enabled."""
    if status.read_only:
        return "read-only"
    if status.trading_halted:
        return f"HALTED by {status.halted_by or 'the operator'} since {when(status.halted_at_unix_ms)}: " + (
            f"{status.halt_reason} (resume with `etradectl resume`)"
        )
    return "enabled (orders need human confirmation)"


def breaker_rows(status: Any) -> list[tuple[str, str]]:
    """One line per problem that tripped the circuit breaker: when, which request, which client, what."""
    return [
        (
            "tripped by",
            f"{when(p.at_unix_ms)}  {p.operation or 'request'} from {p.client or 'an unnamed client'}: {p.code}",
        )
        for p in status.breaker_problems
    ]


def session_rows(session: Any) -> list[tuple[str, str]]:
    """The session's lines of ``etradectl status``; countdowns use the daemon's clock."""
    from protos.broker.v1 import session_pb2

    now = session.as_of_unix_ms / 1000 if session.as_of_unix_ms else None
    state = session_pb2.SessionState.Name(session.state).removeprefix("SESSION_STATE_")
    rows = [("session", f"{state}: {session.detail}")]
    if session.expires_at_unix_ms:
        verb = "expires" if session.expires_at_unix_ms / 1000 > (now or time.time()) else "expired"
        rows.append(
            (
                verb,
                f"{countdown(session.expires_at_unix_ms, now)} "
                f"(midnight US Eastern: {session.expires_at_et}; local {session.expires_at_local})",
            )
        )
    if session.last_upstream_call_unix_ms:
        rows.append(
            ("last call", f"{countdown(session.last_upstream_call_unix_ms, now)} ({session.last_upstream_call_local})")
        )
    if session.next_renewal_unix_ms:
        rows.append(("next renewal", f"{countdown(session.next_renewal_unix_ms, now)} ({session.next_renewal_local})"))
    if session.last_renewal_unix_ms:
        rows.append(("last renewal", f"{session.last_renewal_result} ({countdown(session.last_renewal_unix_ms, now)})"))
    if session.login_reminder:
        rows.append(("reminder", session.login_reminder))
    if session.secret_store:
        rows.append(("secrets", session.secret_store))
    return rows


def notification_rows(status: Any) -> list[tuple[str, str]]:
    """One line per notification channel: its delivery health (never its URL)."""
    from cli.commands.notify import health_text

    return [(f"notify {h.name}", health_text(h)) for h in status.notifications]


MODE_TEXT = {
    "single-user": "single-user (the daemon runs as you: it holds against the model's MCP tools, not against "
    "programs running as you; see `etradectl doctor`)",
    "protected": "protected (the daemon runs as its own user; approving orders needs sudo)",
}


async def run(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict
    from cli.doctor import mode_of
    from cli.performance_view import render_performance
    from protos.broker.v1 import session_pb2

    status = await ctx.client().get_status()
    session = status.session
    active = session.state == session_pb2.SESSION_STATE_ACTIVE
    mode = mode_of(Path(ctx.client().socket_path))
    if ctx.out.json_mode:
        ctx.out.json({**message_to_dict(status), "mode": mode})
    else:
        rows = [
            (
                "daemon",
                f"etrade-daemon {status.daemon_version} (API {status.api_version}) on {ctx.client().socket_path}",
            ),
            ("mode", MODE_TEXT[mode]),
            ("environment", f"{status.environment} ({status.upstream_base_url})"),
            ("trading", trading_text(status)),
        ]
        rows.extend(breaker_rows(status))
        if status.clock and status.environment == "emulator":
            rows.append(("clock", status.clock))
        rows.extend(session_rows(session))
        rows.extend(notification_rows(status))
        ctx.out.pairs(rows)
        render_performance(ctx.out, status.performance)
        if session.fix_command:
            ctx.out.info(f"\nhint: run `{session.fix_command}`")
    # INACTIVE is fine for scripts: the daemon renews it on the next request.
    ok = active or session.state == session_pb2.SESSION_STATE_INACTIVE
    return exit_codes.OK if ok else exit_codes.SESSION
