"""``etradectl status``: the daemon and the E*TRADE session at a glance."""

from __future__ import annotations

import argparse
import time
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
    seconds = int(until_unix_ms / 1000 - (time.time() if now is None else now))
    if seconds <= 0:
        return "now"
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    return f"in {hours}h {minutes:02d}m" if hours else f"in {minutes}m"


def when(unix_ms: int) -> str:
    if not unix_ms:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(unix_ms / 1000))


async def run(ctx: Context, args: argparse.Namespace) -> int:
    from cli.performance_view import render_performance
    from daemon.wire import message_to_dict
    from protos.broker.v1 import session_pb2

    status = await ctx.client().get_status()
    session = status.session
    state = session_pb2.SessionState.Name(session.state).removeprefix("SESSION_STATE_")
    active = session.state == session_pb2.SESSION_STATE_ACTIVE
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(status))
    else:
        rows = [
            (
                "daemon",
                f"etrade-daemon {status.daemon_version} (API {status.api_version}) on {ctx.client().socket_path}",
            ),
            ("environment", f"{status.environment} ({status.upstream_base_url})"),
            ("trading", "read-only" if status.read_only else "enabled (orders need human confirmation)"),
            ("session", f"{state}: {session.detail}"),
        ]
        if session.expires_at_unix_ms:
            rows.append(("expires", f"{countdown(session.expires_at_unix_ms)} ({session.expires_at_et} ET)"))
        if session.last_upstream_call_unix_ms:
            rows.append(("last call", when(session.last_upstream_call_unix_ms)))
        if session.next_renewal_unix_ms:
            rows.append(("next renewal", when(session.next_renewal_unix_ms)))
        ctx.out.pairs(rows)
        render_performance(ctx.out, status.performance)
        if session.fix_command:
            ctx.out.info(f"\nhint: run `{session.fix_command}`")
    return exit_codes.OK if active else exit_codes.SESSION
