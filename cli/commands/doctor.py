"""``etradectl doctor``: check everything users trip on and print the fix for each failure."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from cli import exit_codes
from cli.commands import add_command

if TYPE_CHECKING:
    from cli.doctor import Check
    from cli.main import Context

MARKS = {"ok": ("ok", "32"), "warn": ("warn", "33"), "fail": ("FAIL", "31;1"), "skip": ("skip", "2")}


def register(commands: Any) -> None:
    parser = add_command(
        commands,
        "doctor",
        help="check the installation, the daemon and the E*TRADE session; print fixes",
        description="Check, in order: the config file, the daemon (reachable? which version?), the\n"
        "socket's and its directory's permissions, the keyring (or secret file), the consumer\n"
        "credentials, this machine's clock against E*TRADE's (it refuses requests more than five\n"
        "minutes off), the E*TRADE session (verified with a real request), and the MCP clients'\n"
        "configuration. Each failure prints its fix.\n\n"
        "Exit status: 0 when nothing failed (warnings allowed); otherwise the status of the first\n"
        "failure: 3 daemon or socket, 4 keyring, credentials or session, 5 a bad config file,\n"
        "6 the clock, 8 incompatible versions.",
        examples="  etradectl doctor\n"
        "  etradectl doctor --offline            skip what contacts E*TRADE (clock, session test)\n"
        "  etradectl --json doctor | jq '.checks[] | select(.status == \"fail\")'",
    )
    parser.add_argument(
        "--offline", action="store_true", help="do not contact E*TRADE (skips the clock check and the session test)"
    )
    parser.set_defaults(handler=run)


def _render(ctx: Context, check: Check) -> None:
    word, color = MARKS[check.status]
    ctx.out.marked_line(f"{word:<4}", color, f"  {check.name:<12} {check.summary}")
    if check.fix and check.status in ("fail", "warn"):
        ctx.out.line(f"{'':<4}  {'':<12} fix: {check.fix}")


async def run(ctx: Context, args: argparse.Namespace) -> int:
    import os

    from broker_client import VERSION, paths
    from cli import doctor

    found = doctor.Findings(environ=os.environ, socket=paths.socket_path(ctx.socket).absolute())
    client = ctx.client()
    checks: list[Check] = []

    def report(check: Check) -> None:
        checks.append(check)
        if not ctx.out.json_mode:
            _render(ctx, check)

    # In order: later checks use what earlier ones found (the settings, the daemon's status).
    report(doctor.check_config(found))
    report(await doctor.check_daemon(found, client))
    report(doctor.check_versions(found, VERSION))
    report(doctor.check_socket_permissions(found))
    report(doctor.check_secret_store(found))
    report(doctor.check_credentials(found))
    # The clock before the session test: a skewed clock makes E*TRADE refuse every request.
    report(doctor.check_clock(found, offline=args.offline))
    report(await doctor.check_session(found, client, offline=args.offline))
    report(doctor.check_mcp_clients(found))
    report(doctor.check_mode(found))
    report(doctor.check_sudo(found))
    failed = [c for c in checks if c.status == "fail"]
    code = failed[0].exit_code if failed else exit_codes.OK
    if ctx.out.json_mode:
        ctx.out.json({"ok": not failed, "exit_status": code, "checks": [c.as_dict() for c in checks]})
    elif failed:
        ctx.out.info(f"\n{len(failed)} problem(s) found; fix the first one first, then run `etradectl doctor` again")
    return code
