"""``etradectl notify list|test|store``: the daemon's notification channels (phone, chat, email, webhooks).

Channels are configured in config.toml as ``[[notifications.channels]]``; their URLs (which hold
tokens) are kept in the daemon's secret store by ``notify store``, which reads them from a prompt or
stdin — never from the command line, where other users and shell history could read them.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING, Any

from cli import exit_codes
from cli.commands import add_command

if TYPE_CHECKING:
    from cli.main import Context


def register(commands: Any) -> None:
    notify = add_command(
        commands,
        "notify",
        help="notification channels: list them, send a test, store a channel's URL",
        description="Notification channels (ntfy, Pushover, Telegram, email, signed webhooks, ...) are configured in\n"
        "config.toml as [[notifications.channels]] (name, events, trusted_for_codes, type); each channel's\n"
        "URL is kept in the daemon's secret store by `etradectl notify store NAME`.",
        examples="  etradectl notify list\n  etradectl notify store phone\n  etradectl notify test\n"
        "  etradectl notify test phone",
    )
    sub = notify.add_subparsers(title="notify commands", metavar="COMMAND")
    listing = add_command(
        sub,
        "list",
        help="the channels: events, trusted for codes, masked URL, delivery health",
        description="Every configured channel with the events it receives, whether it may receive confirmation\n"
        "codes, its URL masked (scheme only), and its delivery health.",
        examples="  etradectl notify list\n  etradectl --json notify list",
    )
    listing.set_defaults(handler=run_list)
    test = add_command(
        sub,
        "test",
        help="send a test notification to one channel (or all) and print each result",
        description="Send a test notification and wait for each channel's result (at most 30 s per channel).\n"
        "Exit status 0 when every channel delivered, 6 when one failed.",
        examples="  etradectl notify test\n  etradectl notify test phone",
    )
    test.add_argument("channel", nargs="?", default="", help="a channel's name (default: every channel)")
    test.set_defaults(handler=run_test)
    store = add_command(
        sub,
        "store",
        help="store a channel's URL (and a webhook's signing secret) in the daemon's secret store",
        description="Read the channel's URL from a prompt without echo (or one line of stdin) and send it to the\n"
        "daemon, which keeps it in its secret store. A webhook channel also asks for its signing secret\n"
        "(a second line of stdin). The URL is never taken from the command line.",
        examples="  etradectl notify store phone\n  printf '%s\\n' 'ntfy://my-topic' | etradectl notify store phone",
    )
    store.add_argument("channel", help="the channel's name, as in [[notifications.channels]]")
    store.set_defaults(handler=run_store)
    notify.set_defaults(handler=lambda ctx, args: _help(notify))


async def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return exit_codes.USAGE


def _read_secret(prompt: str) -> str:
    """Without echo on a terminal; one line from stdin otherwise ("" at end of input)."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().strip()


def health_text(health: Any) -> str:
    """``ok 3 · failed 1 (ConnectionError, ...) · dropped 0`` for a channel's health."""
    from cli.commands.status import when

    parts = [f"delivered {health.delivered}", f"failed {health.failed}"]
    if health.dropped:
        parts.append(f"dropped {health.dropped}")
    if health.queued:
        parts.append(f"queued {health.queued}")
    if health.last_success_unix_ms:
        parts.append(f"last success {when(health.last_success_unix_ms)}")
    if health.last_error:
        parts.append(f"last error {health.last_error} at {when(health.last_error_unix_ms)}")
    return " · ".join(parts)


async def run_list(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    response = await ctx.client().list_channels()
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(response))
        return exit_codes.OK
    if not response.channels:
        ctx.out.info(
            "no notification channels; add [[notifications.channels]] to config.toml (see README, Notifications)"
        )
        return exit_codes.OK
    rows = [
        [
            c.name,
            c.type,
            ",".join(c.events) or "all",
            "yes" if c.trusted_for_codes else "no",
            c.masked_url or "(not stored: etradectl notify store " + c.name + ")",
            health_text(c.health),
        ]
        for c in response.channels
    ]
    ctx.out.table(["CHANNEL", "TYPE", "EVENTS", "CODES", "URL", "HEALTH"], rows)
    return exit_codes.OK


async def run_test(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    response = await ctx.client().test_channels(args.channel)
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(response))
    else:
        ctx.out.table(
            ["CHANNEL", "RESULT"], [[r.name, "delivered" if r.ok else f"FAILED: {r.error}"] for r in response.results]
        )
    return exit_codes.OK if all(r.ok for r in response.results) else exit_codes.UPSTREAM


async def run_store(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    channel = args.channel
    listing = await ctx.client().list_channels()
    known = {c.name: c for c in listing.channels}
    if channel not in known:
        names = ", ".join(known) or "none"
        ctx.out.error(
            f"there is no notification channel {channel!r} (configured: {names})",
            "add it as [[notifications.channels]] in config.toml, restart the daemon, then run this again",
        )
        return exit_codes.INVALID
    url = _read_secret(f"URL of channel {channel}: ")
    secret = ""
    if url and known[channel].type == "webhook":
        secret = _read_secret("Signing secret (at least 16 characters, shared with the receiver): ")
    if not url:
        ctx.out.error("no URL was given", f"type it when asked, or pipe it: ... | etradectl notify store {channel}")
        return exit_codes.USAGE
    result = await ctx.client().store_channel_secret(channel, url, secret)
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(result))
        return exit_codes.OK
    ctx.out.line(f"stored the URL of channel {channel} ({result.masked_url}) in {result.secret_store}")
    ctx.out.info(f"next: etradectl notify test {channel}")
    return exit_codes.OK
