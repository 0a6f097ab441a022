"""``etradectl auth setup|login|logout``: the human side of E*TRADE's OAuth.

``setup`` hands the consumer key and secret to the daemon, which owns the secret store (the OS
keyring, or the opt-in 0600 file on a headless machine) — the CLI never writes secrets itself.
``login`` works in any state (also while ACTIVE or EXPIRED) in one command: the daemon gets a
request token, the human opens the URL and types the code (hidden on a terminal; one line on
stdin otherwise), and the daemon exchanges it.
"""

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
    from cli.output import Output


KEY_ENV = "ETRADE_CONSUMER_KEY"
SECRET_ENV = "ETRADE_CONSUMER_SECRET"


def register(commands: Any) -> None:
    auth = add_command(
        commands,
        "auth",
        help="store credentials, log in to or out of E*TRADE",
        description="Store your consumer key (once), log in to E*TRADE (once a day: sessions end at\n"
        "midnight US Eastern), or log out.",
        examples="  etradectl auth setup\n  etradectl auth login\n  etradectl auth logout",
    )
    sub = auth.add_subparsers(title="auth commands", metavar="COMMAND")
    setup = add_command(
        sub,
        "setup",
        help="store your E*TRADE consumer key and secret in the daemon's secret store",
        description="Give the daemon your E*TRADE consumer key and secret; it stores them in the OS keyring\n"
        f"(or the opt-in 0600 file). They are taken from {KEY_ENV} and {SECRET_ENV} when both\n"
        "are set, else prompted for without echo (or read as two lines from a pipe).",
        examples="  etradectl auth setup\n"
        f"  {KEY_ENV}=... {SECRET_ENV}=... etradectl auth setup\n"
        "  pass show etrade | etradectl auth setup      key on the first line, secret on the second",
    )
    setup.set_defaults(handler=run_setup)
    login = add_command(
        sub,
        "login",
        help="log in: open E*TRADE's authorization page, then enter the code it shows",
        description="Log in to E*TRADE. The daemon gets a request token; you open the URL, sign in,\n"
        "accept, and type the verification code E*TRADE shows. The daemon keeps the session.",
        examples="  etradectl auth login                     interactive\n"
        "  etradectl auth login --url-only --json   scripts: print the URL (valid 5 minutes) ...\n"
        "  etradectl auth login --finish            ... then finish: type the code (or pipe it in)",
    )
    login.add_argument(
        "--finish", action="store_true", help="finish a login started with --url-only: asks for the code"
    )
    login.add_argument(
        "--verifier",
        help="deprecated: the code in argv is readable by every local user (/proc/*/cmdline); use --finish",
    )
    login.add_argument("--url-only", action="store_true", help="start a login, print the URL and exit")
    login.add_argument("--no-browser", action="store_true", help="do not try to open a web browser")
    login.set_defaults(handler=run_login)
    logout = add_command(
        sub,
        "logout",
        help="revoke the E*TRADE session and delete the local token",
        description="Revoke the access token at E*TRADE (best effort) and delete it from the daemon's store.\n"
        "With --forget-credentials, also delete the stored consumer key and secret.",
        examples="  etradectl auth logout\n  etradectl auth logout --forget-credentials",
    )
    logout.add_argument(
        "--forget-credentials", action="store_true", help="also delete the stored consumer key and secret"
    )
    logout.set_defaults(handler=run_logout)
    auth.set_defaults(handler=lambda ctx, args: _help(auth))


async def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return exit_codes.USAGE


def _can_open_browser() -> bool:
    # On a headless machine webbrowser may start a text browser inside this terminal.
    return sys.platform == "darwin" or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _read_secret(prompt: str) -> str:
    """Without echo on a terminal; one line from stdin otherwise ("" at end of input)."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().strip()


async def run_setup(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    out = ctx.out
    key, secret = os.environ.get(KEY_ENV, "").strip(), os.environ.get(SECRET_ENV, "").strip()
    if key and secret:
        out.info(f"using the consumer key and secret from {KEY_ENV} and {SECRET_ENV}")
    else:
        key = _read_secret("E*TRADE consumer key: ")
        secret = _read_secret("E*TRADE consumer secret: ") if key else ""
    if not key or not secret:
        out.error(
            "no consumer key and secret were given",
            f"type them when asked, or set {KEY_ENV} and {SECRET_ENV}, then run `etradectl auth setup` again",
        )
        return exit_codes.USAGE
    result = await ctx.client().set_credentials(key, secret)
    if out.json_mode:
        out.json(message_to_dict(result))
        return exit_codes.OK
    out.line(f"stored the consumer key {key[:4]}… and its secret in {result.stored_in}")
    if result.overridden_by_environment:
        out.warn(
            f"the daemon was started with {KEY_ENV}/{SECRET_ENV}, which take precedence over the stored pair; "
            "unset them and restart the daemon to use these"
        )
    out.info("next: etradectl auth login")
    return exit_codes.OK


def _read_verifier(out: Output) -> str:
    """The verification code: asked for without echo on a terminal, else one line from stdin."""
    if sys.stdin.isatty():
        return getpass.getpass("Verification code: ")
    out.info("Verification code (one line on stdin):")
    sys.stderr.flush()
    return sys.stdin.readline()


async def run_login(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    client = ctx.client()
    out = ctx.out
    verifier: str | None = args.verifier
    if verifier is not None:
        out.warn(
            "--verifier is deprecated: a code in the command line is readable by every local user while it runs; "
            "use `etradectl auth login --finish`, which asks for it (or reads it from a pipe)"
        )
    elif args.finish:
        verifier = _read_verifier(out)
    else:
        begin = await client.begin_login()
        if args.url_only:
            if out.json_mode:
                out.json(message_to_dict(begin))
            else:
                out.line(begin.authorize_url)
                out.info("open the URL, accept, then run: etradectl auth login --finish (within 5 minutes)")
            return exit_codes.OK
        out.info("Open this URL, sign in to E*TRADE and accept (the link is valid for 5 minutes):\n")
        out.info(f"  {begin.authorize_url}\n")
        if not args.no_browser and _can_open_browser():
            webbrowser.open(begin.authorize_url)
        verifier = _read_verifier(out)
    if not verifier.strip():
        out.error(
            "no verification code was given",
            "run `etradectl auth login` in a terminal, or `etradectl auth login --url-only` "
            "then `etradectl auth login --finish` (the code on its stdin)",
        )
        return exit_codes.USAGE
    result = await client.complete_login(verifier)
    if out.json_mode:
        out.json(message_to_dict(result))
    else:
        session = result.session
        out.line(f"logged in; the session ends at midnight US Eastern ({session.expires_at_et})")
    return exit_codes.OK


async def run_logout(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    result = await ctx.client().logout(forget_credentials=args.forget_credentials)
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(result))
    elif result.revoked_upstream:
        ctx.out.line("logged out; E*TRADE revoked the token and the daemon deleted it")
    else:
        ctx.out.line("logged out locally; E*TRADE could not be told or the token was already dead (deleted anyway)")
    if args.forget_credentials and not ctx.out.json_mode:
        ctx.out.line("the stored consumer key and secret were deleted")
    return exit_codes.OK
