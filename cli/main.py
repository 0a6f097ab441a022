"""``etradectl``: the operator's side of etrade-mcp.

Each command lives in ``cli/commands/<group>.py`` with a ``register(subparsers)`` function; it
parses, calls the daemon through ``broker_client.client`` and renders. One handler here turns every
:class:`broker_client.errors.BrokerError` into ``error:`` / ``hint:`` lines and a documented exit status.
Heavy imports (grpc, the client) happen inside command handlers, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import shlex
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from broker_client import VERSION
from cli import exit_codes
from cli.output import Output

if TYPE_CHECKING:
    from broker_client.client import BrokerClient


Handler = Callable[["Context", argparse.Namespace], Awaitable[int]]

EPILOG = f"""examples:
  etradectl status                     is the daemon up, is the E*TRADE session alive?
  etradectl auth login                 log in to E*TRADE (once a day: sessions end at midnight ET)
  etradectl quote AAPL MSFT            quotes
  etradectl accounts                   your accounts and their keys
  etradectl portfolio ACCOUNT_KEY      positions with gains
  etradectl --json balance KEY         one JSON document on stdout, for scripts
  etradectl orders pending             orders the model prepared, waiting for you (with codes)
  etradectl orders confirm PENDING     review one and type yes to place it
  etradectl halt / resume              stop all trading at once / allow it again
  etradectl audit verify               check the audit log's hash chain
  etradectl doctor                     what is wrong, and how to fix it
  etradectl service install            run the daemon in the background (systemd / launchd)
  etradectl mcp config --write         connect Claude Desktop (or --client claude-code|cursor)
  etradectl watchlist add tech AAPL    keep a watchlist (MCP clients read it)

{exit_codes.help_text()}
"""


@dataclass
class Context:
    """What every command handler gets: output, and a lazily opened daemon client."""

    out: Output
    socket: Path | None
    timeout: float
    _client: BrokerClient | None = field(default=None, repr=False)

    def client(self) -> BrokerClient:
        if self._client is None:
            from broker_client.client import BrokerClient

            self._client = BrokerClient(
                self.socket, client_name=f"etradectl/{VERSION}", timeout=self.timeout, on_version_warning=self.out.warn
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()


def _seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value < 86_400:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {raw!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from cli.commands import (
        accounts,
        auth,
        completion,
        config,
        doctor,
        history,
        market,
        mcp,
        notify,
        options,
        orders,
        service,
        status,
        trading,
        watchlists,
    )

    parser = argparse.ArgumentParser(
        prog="etradectl",
        description="Operate etrade-mcp: the E*TRADE session, market data, accounts, orders.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"etradectl {VERSION}")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON document on stdout")
    parser.add_argument(
        "--socket", type=Path, help="the daemon's socket (default: $XDG_RUNTIME_DIR/etrade-mcp/broker.sock)"
    )
    parser.add_argument("--timeout", type=_seconds, default=30.0, help="seconds to wait for the daemon (default: 30)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details (and tracebacks) to stderr")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in (status, auth, market, options, accounts, history, watchlists, orders, trading, notify):
        module.register(commands)
    for module in (doctor, service, mcp, config, completion):  # running etrade-mcp (issue 7)
        module.register(commands)
    return parser


async def _run(handler: Handler, ctx: Context, args: argparse.Namespace) -> int:
    try:
        return await handler(ctx, args)
    finally:
        await ctx.close()


# An account_id_key is base64url-like, so it can start with "-", which argparse takes for an option.
_DASH_KEY = re.compile(r"^-(?!-)[A-Za-z0-9_-]{12,}$")


def _hint_for_dash_keys(argv: list[str]) -> None:
    keys = [arg for arg in argv if _DASH_KEY.match(arg)]
    if keys:
        sys.stderr.write(
            f"\nhint: {keys[0]} looks like an account_id_key; one that starts with '-' goes after `--` "
            f"(etradectl balance -- {keys[0]}) or joined to its option (--account={keys[0]})\n"
        )


def _root_safe_arguments(argv: list[str], socket: Path | None) -> list[str]:
    """``argv`` without its ``--socket`` when root would refuse that socket (then sudo finds the
    protected daemon's own): the hint must not send the human to a command that fails."""
    from broker_client import paths

    if socket is None or paths.root_socket_refusal(paths.socket_path(socket)) is None:
        return argv
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--socket":
            skip = True
        elif not arg.startswith("--socket="):
            kept.append(arg)
    return kept


def main(argv: list[str] | None = None, *, parser: argparse.ArgumentParser | None = None) -> int:
    """Run etradectl; ``parser`` defaults to :func:`build_parser` (tests pass one with extra commands)."""
    parser = parser or build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        if exc.code == exit_codes.USAGE:
            _hint_for_dash_keys(sys.argv[1:] if argv is None else argv)
        raise
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return exit_codes.USAGE
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if args.verbose else logging.WARNING)
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    out = Output(json_mode=args.json)
    ctx = Context(out=out, socket=args.socket, timeout=args.timeout)

    from broker_client.errors import BrokerError, ErrorCode

    try:
        return asyncio.run(_run(handler, ctx, args))
    except BrokerError as exc:
        if exc.code is ErrorCode.OPERATOR_AUTHORITY_REQUIRED:
            given = sys.argv[1:] if argv is None else argv
            command = shlex.join(["sudo", "etradectl", *_root_safe_arguments(given, args.socket)])
            out.error(f"this needs operator authority: run `{command}`", exc.hint)
        else:
            out.error(exc.message, exc.hint)
        return exit_codes.BY_KIND[exc.code.kind]
    except KeyboardInterrupt:
        out.info("interrupted")
        return exit_codes.INTERRUPTED
    except Exception as exc:
        logging.getLogger("etradectl").debug("unexpected failure", exc_info=True)
        out.error(f"unexpected failure: {type(exc).__name__}: {exc}", "run again with -v for details; this is a bug")
        return exit_codes.FAILURE


if __name__ == "__main__":
    raise SystemExit(main())
