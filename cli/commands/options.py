"""``etradectl lookup`` and ``etradectl options expirations|chain|quote``: symbol lookup and listed
options from the daemon's market data."""

from __future__ import annotations

import argparse
from datetime import date
from typing import TYPE_CHECKING, Any

from cli import exit_codes
from cli.commands import add_command, whole_number
from cli.output import money, number, signed

if TYPE_CHECKING:
    from cli.main import Context

#: etradectl shows up to the daemon's limit of strikes (a terminal is not a model's context).
MAX_STRIKES = 50


def _iso_date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _price(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive price, got {text!r}")
    return value


def register(commands: Any) -> None:
    lookup = add_command(
        commands,
        "lookup",
        help="find symbols from a company or fund name",
        description="E*TRADE's product lookup: securities whose name matches the search (it searches\n"
        "company names, not symbols).",
        examples="  etradectl lookup apple\n  etradectl lookup 'vanguard 500'\n  etradectl --json lookup coca cola",
    )
    lookup.add_argument("words", nargs="+", metavar="NAME")
    lookup.set_defaults(handler=run_lookup)

    parser = add_command(
        commands,
        "options",
        help="option expirations, chains and quotes",
        description="Listed options of a stock or ETF: the expiration dates, one expiration's chain\n"
        "(strikes around a price with bid/ask, volume, open interest and greeks), or one contract.",
        examples="  etradectl options expirations AAPL\n"
        "  etradectl options chain AAPL\n"
        "  etradectl options chain AAPL --expiration 2026-06-19 --near 200 --strikes 6 --calls\n"
        "  etradectl options quote AAPL:2026:6:19:CALL:200",
        aliases=("option",),
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)

    expirations = add_command(
        actions,
        "expirations",
        help="the expiration dates, nearest first",
        description="The option expiration dates of SYMBOL with their type (WEEKLY, MONTHLY) and days left.",
        examples="  etradectl options expirations AAPL\n  etradectl options expirations SPY --type monthly",
    )
    expirations.add_argument("symbol", metavar="SYMBOL")
    expirations.add_argument(
        "--type",
        dest="expiry_type",
        type=str.upper,
        choices=("ALL", "WEEKLY", "MONTHLY"),
        default="ALL",
        help="only WEEKLY or MONTHLY expirations (default: ALL)",
    )
    expirations.set_defaults(handler=run_expirations)

    chain = add_command(
        actions,
        "chain",
        help="one expiration's chain",
        description="The strikes nearest a price (default: the last price) of one expiration (default:\n"
        "the nearest monthly), calls and puts side by side. Prices are per share; a contract\n"
        "covers 100 shares. Theta is per calendar day, IV in percent.",
        examples="  etradectl options chain AAPL\n"
        "  etradectl options chain AAPL --expiration 2026-06-19 --near 200 --strikes 6\n"
        "  etradectl options chain SPY --weeklies --puts",
    )
    chain.add_argument("symbol", metavar="SYMBOL")
    chain.add_argument("--expiration", type=_iso_date, default=None, help="YYYY-MM-DD (see `options expirations`)")
    chain.add_argument("--near", type=_price, default=None, help="center the strikes on this price")
    chain.add_argument(
        "--strikes",
        type=whole_number(1, MAX_STRIKES),
        default=10,
        help=f"how many strikes, 1-{MAX_STRIKES} (default 10)",
    )
    sides = chain.add_mutually_exclusive_group()
    sides.add_argument("--calls", dest="side", action="store_const", const="calls", help="calls only")
    sides.add_argument("--puts", dest="side", action="store_const", const="puts", help="puts only")
    chain.add_argument("--weeklies", action="store_true", help="let the default expiration be a weekly one")
    chain.set_defaults(handler=run_chain, side="both")

    quote = add_command(
        actions,
        "quote",
        help="one contract's quote",
        description="The quote of one option contract, named ROOT:YEAR:MONTH:DAY:CALL|PUT:STRIKE (as\n"
        "`options chain --json` shows it) or by its OSI symbol.",
        examples="  etradectl options quote AAPL:2026:6:19:CALL:200\n  etradectl options quote AAPL260619P00200000",
    )
    quote.add_argument("symbol", metavar="OPTION")
    quote.set_defaults(handler=run_quote)


def _opt(message: Any, name: str) -> Any:
    return getattr(message, name) if message.HasField(name) else None


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}"


async def run_lookup(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    response = await ctx.client().lookup_product(" ".join(args.words))
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(response))
    elif response.products:
        ctx.out.table(["SYMBOL", "TYPE", "DESCRIPTION"], [[p.symbol, p.type, p.description] for p in response.products])
    if not response.products:
        ctx.out.warn(f"no security's name matches {' '.join(args.words)!r}; try fewer or shorter words")
        return exit_codes.INVALID
    return exit_codes.OK


async def run_expirations(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    response = await ctx.client().get_option_expirations(args.symbol, expiry_type=args.expiry_type)
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(response))
    else:
        rows = [[e.date, e.expiry_type, str(e.days_to_expiration)] for e in response.expirations]
        ctx.out.table(["EXPIRATION", "TYPE", "DAYS"], rows, right=(2,))
    return exit_codes.OK


def _side(contract: Any) -> list[str]:
    if contract is None:
        return ["-"] * 6
    return [
        money(_opt(contract, "bid")),
        money(_opt(contract, "ask")),
        money(_opt(contract, "last")),
        number(_opt(contract, "open_interest"), 0),
        number(_opt(contract, "delta"), 3),
        _percent(_opt(contract, "implied_volatility")),
    ]


async def run_chain(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict
    from protos.broker.v1 import options_pb2

    side = {"both": options_pb2.OPTION_SIDE_BOTH, "calls": options_pb2.OPTION_SIDE_CALLS}.get(
        args.side, options_pb2.OPTION_SIDE_PUTS
    )
    response = await ctx.client().get_option_chain(
        args.symbol,
        expiration=args.expiration or "",
        strike_near=args.near,
        strike_count=args.strikes,
        side=side,
        include_weeklies=args.weeklies,
    )
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(response))
        return exit_codes.OK
    ctx.out.heading(f"{response.symbol} options expiring {response.expiration} ({response.quote_type})")
    headers = ["STRIKE"]
    rows = []
    show_calls, show_puts = args.side in ("both", "calls"), args.side in ("both", "puts")
    labels = ["BID", "ASK", "LAST", "OI", "DELTA", "IV%"]
    if show_calls:
        headers += [f"C {label}" for label in labels]
    if show_puts:
        headers += [f"P {label}" for label in labels]
    for row in response.rows:
        cells = [money(row.strike)]
        if show_calls:
            cells += _side(row.call if row.HasField("call") else None)
        if show_puts:
            cells += _side(row.put if row.HasField("put") else None)
        rows.append(cells)
    ctx.out.table(headers, rows, right=tuple(range(len(headers))))
    return exit_codes.OK


async def run_quote(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    response = await ctx.client().get_option_quote(args.symbol)
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(response))
        return exit_codes.OK
    c = response.contract
    ctx.out.pairs(
        [
            ("contract", c.display_symbol or c.symbol),
            ("symbol", c.symbol),
            ("osi", c.osi_key),
            ("last", money(_opt(c, "last"))),
            ("change", signed(_opt(c, "net_change"))),
            ("bid / ask", f"{money(_opt(c, 'bid'))} / {money(_opt(c, 'ask'))}"),
            ("volume", number(_opt(c, "volume"), 0)),
            ("open interest", number(_opt(c, "open_interest"), 0)),
            ("delta / gamma", f"{number(_opt(c, 'delta'), 4)} / {number(_opt(c, 'gamma'), 4)}"),
            ("theta / vega", f"{number(_opt(c, 'theta'), 4)} / {number(_opt(c, 'vega'), 4)}"),
            ("implied vol", f"{_percent(_opt(c, 'implied_volatility'))}%"),
            ("days to expiry", number(_opt(response, "days_to_expiration"), 0)),
            ("status", response.quote_status),
        ]
    )
    return exit_codes.OK
