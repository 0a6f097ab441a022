"""``etradectl quote``: quotes from the daemon's market data."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from cli import exit_codes
from cli.commands import add_command
from cli.output import money, number, signed

if TYPE_CHECKING:
    from cli.main import Context


def register(commands: Any) -> None:
    parser = add_command(
        commands,
        "quote",
        help="quotes for one or more symbols",
        description="Quotes for 1-50 symbols. Exit status 5 if any symbol could not be quoted\n"
        "(the others are still printed; the reasons go to stderr).",
        examples="  etradectl quote AAPL\n  etradectl quote aapl msft brk.b\n  etradectl --json quote SPY QQQ",
        aliases=("quotes",),
    )
    parser.add_argument("symbols", nargs="+", metavar="SYMBOL")
    parser.set_defaults(handler=run)


def _row(q: Any) -> list[str]:
    def opt(name: str) -> Any:
        return getattr(q, name) if q.HasField(name) else None

    return [
        q.symbol,
        money(opt("last_trade")),
        signed(opt("change")),
        signed(opt("change_percent"), "%"),
        money(opt("bid")),
        money(opt("ask")),
        number(opt("volume")),
        q.quote_status,
        q.company_name,
    ]


async def run(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    response = await ctx.client().get_quotes(args.symbols)
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(response))
    else:
        rows = [_row(q) for q in response.quotes]
        if rows:
            headers = ["SYMBOL", "LAST", "CHANGE", "CHANGE%", "BID", "ASK", "VOLUME", "STATUS", "COMPANY"]
            ctx.out.table(headers, rows, right=(1, 2, 3, 4, 5, 6))
    for problem in response.errors:
        ctx.out.warn(f"{problem.symbol}: {problem.message}")
    return exit_codes.INVALID if response.errors else exit_codes.OK
