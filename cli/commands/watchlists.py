"""``etradectl watchlist list|add|remove``: the watchlists the daemon keeps in config.toml."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from cli import exit_codes
from cli.commands import add_command

if TYPE_CHECKING:
    from cli.main import Context


def register(commands: Any) -> None:
    parser = add_command(
        commands,
        "watchlist",
        help="list, create and edit watchlists",
        description="Watchlists are named lists of up to 50 symbols, kept by the daemon in the\n"
        "[watchlists] table of its config file (comments there are preserved). MCP clients\n"
        "read them as market://watchlist/NAME and are told when they change.",
        examples="  etradectl watchlist list\n"
        "  etradectl watchlist list tech\n"
        "  etradectl watchlist add tech AAPL MSFT NVDA\n"
        "  etradectl watchlist remove tech NVDA\n"
        "  etradectl watchlist remove tech            delete the whole watchlist\n"
        "  etradectl --json watchlist list",
        aliases=("watchlists",),
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)

    show = add_command(
        actions,
        "list",
        help="the watchlists, or one watchlist's symbols",
        description="Every watchlist with its symbols, or with NAME the symbols of that one (one per line).\n"
        "Entries of the config file that are invalid are reported on stderr as 'ignored'.",
        examples="  etradectl watchlist list\n  etradectl watchlist list tech\n  etradectl --json watchlist list",
    )
    show.add_argument("name", nargs="?", metavar="NAME")
    show.set_defaults(handler=list_watchlists)

    add = add_command(
        actions,
        "add",
        help="create a watchlist or add symbols to it",
        description="Create the watchlist NAME if it does not exist and append the symbols it does not hold\n"
        "yet (at most 50). The daemon writes the change into its config file.",
        examples="  etradectl watchlist add tech AAPL MSFT NVDA\n  etradectl watchlist add empty-for-now",
    )
    add.add_argument("name", metavar="NAME", help="1-32 letters, digits, '-' or '_'")
    add.add_argument("symbols", nargs="*", metavar="SYMBOL")
    add.set_defaults(handler=add_symbols)

    remove = add_command(
        actions,
        "remove",
        help="remove symbols, or the whole watchlist when none are given",
        description="Remove the given symbols from the watchlist NAME, or delete NAME when no symbol is given.",
        examples="  etradectl watchlist remove tech NVDA\n  etradectl watchlist remove tech",
    )
    remove.add_argument("name", metavar="NAME")
    remove.add_argument("symbols", nargs="*", metavar="SYMBOL")
    remove.set_defaults(handler=remove_symbols)


async def list_watchlists(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    client = ctx.client()
    if args.name:
        watchlist = (await client.get_watchlist(args.name)).watchlist
        if ctx.out.json_mode:
            ctx.out.json(message_to_dict(watchlist))
        else:
            for symbol in watchlist.symbols:
                ctx.out.line(symbol)
        return exit_codes.OK
    response = await client.list_watchlists()
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(response))
    elif response.watchlists:
        rows = [[w.name, str(len(w.symbols)), " ".join(w.symbols)] for w in response.watchlists]
        ctx.out.table(["NAME", "COUNT", "SYMBOLS"], rows, right=(1,))
    else:
        ctx.out.info("no watchlists yet; create one with `etradectl watchlist add NAME SYMBOL...`")
    for problem in response.problems:
        ctx.out.warn(f"ignored: {problem}")
    return exit_codes.OK


async def _show_change(ctx: Context, response: Any) -> int:
    from broker_client.wire import message_to_dict

    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(response))
    elif response.change == "deleted":
        ctx.out.line(f"{response.name}: deleted")
    else:
        symbols = " ".join(response.watchlist.symbols) or "(empty)"
        ctx.out.line(f"{response.name}: {response.change}: {symbols}")
    return exit_codes.OK


async def add_symbols(ctx: Context, args: argparse.Namespace) -> int:
    return await _show_change(ctx, await ctx.client().add_to_watchlist(args.name, args.symbols))


async def remove_symbols(ctx: Context, args: argparse.Namespace) -> int:
    return await _show_change(ctx, await ctx.client().remove_from_watchlist(args.name, args.symbols))
