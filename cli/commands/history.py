"""``etradectl transactions``: an account's history, as a table, JSON, or CSV for spreadsheets and
accounting software; ``etradectl alerts [list|show|delete]``: the E*TRADE alert inbox (deleting
alerts is the human's job: the MCP proxy has no such tool and the daemon refuses it the call)."""

from __future__ import annotations

import argparse
import csv
import time
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from cli import exit_codes
from cli.commands import add_command, whole_number
from cli.commands.accounts import resolve_account
from cli.output import money, number, printable, signed

if TYPE_CHECKING:
    from cli.main import Context
    from protos.broker.v1 import history_pb2

EASTERN = ZoneInfo("America/New_York")
KINDS = ("BUY", "SELL", "SELL_SHORT", "BUY_TO_COVER", "DIVIDEND", "INTEREST", "FEE", "TRANSFER", "OTHER")
#: The daemon reads at most this many transactions per date range.
MAX_TRANSACTIONS = 1000
TABLE_DEFAULT = 200
CSV_HEADERS = (
    "date",
    "transaction_id",
    "kind",
    "type",
    "symbol",
    "quantity",
    "price",
    "fee",
    "amount",
    "description",
)
#: A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def iso_date(raw: str) -> str:
    """An argparse ``type``: YYYY-MM-DD."""
    try:
        return date.fromisoformat(raw.strip()).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-03-10, got {raw!r}") from None


def register(commands: Any) -> None:
    transactions = add_command(
        commands,
        "transactions",
        help="an account's transactions (trades, dividends, interest, fees, transfers)",
        description="An account's transactions from E*TRADE, newest first. Without dates: the last 30 days;\n"
        "E*TRADE keeps three years. --csv writes a spreadsheet/accounting import file to stdout.\n"
        "ACCOUNT may be omitted when you have a single open account.",
        examples="  etradectl transactions\n"
        "  etradectl transactions --from 2026-01-01 --kind DIVIDEND\n"
        "  etradectl transactions dBZOKt9xDrtRSAOl4MSiiA --from 2025-01-01 --to 2025-12-31 --csv > 2025.csv",
        aliases=("history",),
    )
    transactions.add_argument("account", nargs="?", metavar="ACCOUNT", help="account_id_key (see `etradectl accounts`)")
    transactions.add_argument("--from", dest="start", type=iso_date, metavar="DATE", help="first day, YYYY-MM-DD")
    transactions.add_argument("--to", dest="end", type=iso_date, metavar="DATE", help="last day, YYYY-MM-DD")
    transactions.add_argument(
        "--kind",
        action="append",
        choices=KINDS,
        type=str.upper,
        metavar="KIND",
        help=f"only this kind (repeatable): {', '.join(KINDS)}",
    )
    transactions.add_argument("--symbol", help="only this ticker symbol")
    transactions.add_argument(
        "--limit",
        type=whole_number(1, MAX_TRANSACTIONS),
        help=f"most transactions (default {TABLE_DEFAULT}; {MAX_TRANSACTIONS} with --csv)",
    )
    transactions.add_argument("--csv", action="store_true", help="write CSV (one row per transaction) to stdout")
    transactions.set_defaults(handler=run_transactions)

    alerts = add_command(
        commands,
        "alerts",
        help="your E*TRADE alert inbox: list, show, delete",
        description="The E*TRADE alert inbox (stock price alerts, account notices), newest first.\n"
        "Without an action: the read and unread alerts. Alert text is written by others.",
        examples="  etradectl alerts\n"
        "  etradectl alerts list --status UNREAD --category STOCK\n"
        "  etradectl alerts show 4101\n"
        "  etradectl alerts delete 4101 4102",
        aliases=("alert",),
    )
    alerts.set_defaults(handler=run_alerts_list, category=None, status=None, search=None, limit=None)
    actions = alerts.add_subparsers(title="actions", metavar="ACTION")
    listing = add_command(
        actions,
        "list",
        help="the inbox, newest first",
        description="List alerts. Default: read and unread, both categories, 25 at most.",
        examples="  etradectl alerts list\n  etradectl alerts list --status DELETED\n  etradectl alerts list --search AAPL",
    )
    listing.add_argument("--category", type=str.upper, choices=("STOCK", "ACCOUNT"), help="STOCK or ACCOUNT")
    listing.add_argument(
        "--status", type=str.upper, choices=("READ", "UNREAD", "DELETED"), help="READ, UNREAD or DELETED"
    )
    listing.add_argument("--search", help="only alerts whose subject contains this text")
    listing.add_argument("--limit", type=whole_number(1, 300), help="most alerts (default 25)")
    listing.set_defaults(handler=run_alerts_list)
    show = add_command(
        actions,
        "show",
        help="one alert's message (marks it read)",
        description="Show one alert with its message as plain text. E*TRADE marks it read.",
        examples="  etradectl alerts show 4101",
    )
    show.add_argument("alert_id", type=whole_number(1, 2**63 - 1), metavar="ID")
    show.set_defaults(handler=run_alerts_show)
    delete = add_command(
        actions,
        "delete",
        help="delete alerts by id",
        description="Delete one or more alerts at E*TRADE (they stay listable with --status DELETED).",
        examples="  etradectl alerts delete 4101\n  etradectl alerts delete 4101 4102 4103",
    )
    delete.add_argument("alert_ids", nargs="+", type=whole_number(1, 2**63 - 1), metavar="ID")
    delete.set_defaults(handler=run_alerts_delete)


def _day(unix_ms: int) -> str:
    """The US Eastern calendar day, E*TRADE's."""
    return datetime.fromtimestamp(unix_ms / 1000, EASTERN).date().isoformat() if unix_ms else ""


def _text_cell(value: str) -> str:
    """Text as a spreadsheet shows it, never as a formula it would run."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def write_csv(ctx: Context, response: history_pb2.ListTransactionsResponse) -> None:
    writer = csv.writer(ctx.out.stdout, lineterminator="\n")
    writer.writerow(CSV_HEADERS)
    for t in response.transactions:
        writer.writerow(
            [
                _day(t.transaction_date_unix_ms),
                t.transaction_id,
                t.kind,
                _text_cell(t.transaction_type),
                _text_cell(t.symbol),
                f"{t.quantity:g}",
                f"{t.price:.4f}".rstrip("0").rstrip(".") if t.price else "0",
                f"{t.fee:.2f}",
                f"{t.amount:.2f}",
                _text_cell(t.description),
            ]
        )


async def run_transactions(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.errors import ErrorCode, InvalidRequest
    from broker_client.wire import message_to_dict

    if args.csv and ctx.out.json_mode:
        raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, "--csv and --json both choose the output", hint="use one")
    key = await resolve_account(ctx, args.account)
    limit = args.limit or (MAX_TRANSACTIONS if args.csv else TABLE_DEFAULT)
    response = await ctx.client().list_transactions(
        key,
        start_date=args.start or "",
        end_date=args.end or "",
        kinds=args.kind or (),
        symbol=args.symbol or "",
        limit=limit,
    )
    if response.truncated:
        ctx.out.warn(
            f"more transactions matched than the {len(response.transactions)} shown; "
            "narrow --from/--to or --kind, or raise --limit"
        )
    if args.csv:
        write_csv(ctx, response)
        return exit_codes.OK
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(response))
        return exit_codes.OK
    rows = [
        [
            _day(t.transaction_date_unix_ms),
            t.kind,
            t.symbol or "-",
            number(t.quantity) if t.quantity else "-",
            money(t.price) if t.price else "-",
            signed(t.amount),
            printable(t.description, cell=True)[:40],
            t.transaction_id,
        ]
        for t in response.transactions
    ]
    ctx.out.table(["DATE", "KIND", "SYMBOL", "QTY", "PRICE", "AMOUNT", "DESCRIPTION", "ID"], rows, right=(3, 4, 5))
    s = response.summary
    ctx.out.line()
    ctx.out.pairs(
        [
            ("period", f"{response.start_date} to {response.end_date}"),
            ("transactions", str(s.count)),
            ("bought", money(s.bought)),
            ("sold", money(s.sold)),
            ("dividends", money(s.dividends)),
            ("interest", money(s.interest)),
            ("fees", money(s.fees)),
            ("net transfers", signed(s.net_transfers)),
            ("as of", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(response.fetched_at_unix_ms / 1000))),
        ]
    )
    return exit_codes.OK


def _when(unix: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(unix)) if unix else "-"


async def run_alerts_list(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    response = await ctx.client().list_alerts(
        category=args.category or "", status=args.status or "", search=args.search or "", limit=args.limit or 0
    )
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(response))
        return exit_codes.OK
    rows = [
        [str(a.alert_id), _when(a.created_at_unix), a.status, printable(a.subject, cell=True)[:70]]
        for a in response.alerts
    ]
    ctx.out.table(["ID", "CREATED", "STATUS", "SUBJECT"], rows)
    if response.total > len(response.alerts):
        ctx.out.info(f"{len(response.alerts)} of {response.total} shown; raise --limit to see more")
    return exit_codes.OK


async def run_alerts_show(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    response = await ctx.client().get_alert(args.alert_id)
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(response))
        return exit_codes.OK
    a = response.alert
    ctx.out.pairs(
        [
            ("alert", str(a.alert_id)),
            ("created", _when(a.created_at_unix)),
            ("subject", a.subject),
            ("symbol", response.symbol or "-"),
            ("read", _when(response.read_at_unix)),
        ]
    )
    ctx.out.line()
    ctx.out.line(response.message)
    return exit_codes.OK


async def run_alerts_delete(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    response = await ctx.client().delete_alerts(args.alert_ids)
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(response))
    else:
        if response.deleted:
            ctx.out.line("deleted: " + " ".join(str(i) for i in response.deleted))
        if response.failed:
            ctx.out.warn("not deleted (unknown, or deleted already): " + " ".join(str(i) for i in response.failed))
    return exit_codes.OK if not response.failed else exit_codes.INVALID
