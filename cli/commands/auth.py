"""``etradectl auth login|logout``: the human side of E*TRADE's OAuth."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import webbrowser
from typing import TYPE_CHECKING, Any

from cli import exit_codes
from cli.commands import add_command

if TYPE_CHECKING:
    from cli.main import Context


def register(commands: Any) -> None:
    auth = add_command(
        commands,
        "auth",
        help="log in to or out of E*TRADE",
        description="Log in to E*TRADE (once a day: sessions end at midnight US Eastern) or log out.",
        examples="  etradectl auth login\n  etradectl auth logout",
    )
    sub = auth.add_subparsers(title="auth commands", metavar="COMMAND")
    login = add_command(
        sub,
        "login",
        help="log in: open E*TRADE's authorization page, then enter the code it shows",
        description="Log in to E*TRADE. The daemon gets a request token; you open the URL, sign in,\n"
        "accept, and type the verification code E*TRADE shows. The daemon keeps the session.",
        examples="  etradectl auth login                     interactive\n"
        "  etradectl auth login --url-only --json   scripts: print the URL (valid 5 minutes) ...\n"
        "  etradectl auth login --verifier ABC12    ... then finish with the code",
    )
    login.add_argument("--verifier", help="finish a login started with --url-only, using this code")
    login.add_argument("--url-only", action="store_true", help="start a login, print the URL and exit")
    login.add_argument("--no-browser", action="store_true", help="do not try to open a web browser")
    login.set_defaults(handler=run_login)
    logout = add_command(
        sub,
        "logout",
        help="revoke the E*TRADE session and delete the local token",
        description="Revoke the access token at E*TRADE (best effort) and delete it from the daemon's store.",
        examples="  etradectl auth logout",
    )
    logout.set_defaults(handler=run_logout)
    auth.set_defaults(handler=lambda ctx, args: _help(auth))


async def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return exit_codes.USAGE


def _can_open_browser() -> bool:
    # On a headless machine webbrowser may start a text browser inside this terminal.
    return sys.platform == "darwin" or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


async def run_login(ctx: Context, args: argparse.Namespace) -> int:
    from daemon.wire import message_to_dict

    client = ctx.client()
    out = ctx.out
    verifier: str | None = args.verifier
    if verifier is None:
        begin = await client.begin_login()
        if args.url_only:
            if out.json_mode:
                out.json(message_to_dict(begin))
            else:
                out.line(begin.authorize_url)
                out.info("open the URL, accept, then run: etradectl auth login --verifier CODE (within 5 minutes)")
            return exit_codes.OK
        out.info("Open this URL, sign in to E*TRADE and accept:\n")
        out.info(f"  {begin.authorize_url}\n")
        if not args.no_browser and _can_open_browser():
            webbrowser.open(begin.authorize_url)
        if not sys.stdin.isatty():
            out.error(
                "no terminal to read the verification code from",
                "run `etradectl auth login --url-only`, then `etradectl auth login --verifier CODE`",
            )
            return exit_codes.USAGE
        verifier = getpass.getpass("Verification code: ")
    result = await client.complete_login(verifier)
    if out.json_mode:
        out.json(message_to_dict(result))
    else:
        session = result.session
        out.line(f"logged in; the session ends at midnight US Eastern ({session.expires_at_et})")
    return exit_codes.OK


async def run_logout(ctx: Context, args: argparse.Namespace) -> int:
    from daemon.wire import message_to_dict

    result = await ctx.client().logout()
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(result))
    elif result.revoked_upstream:
        ctx.out.line("logged out; E*TRADE revoked the token and the daemon deleted it")
    else:
        ctx.out.line("logged out locally; E*TRADE could not be told (the token was deleted anyway)")
    return exit_codes.OK
