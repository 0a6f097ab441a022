"""``etradectl orders list|pending|show|confirm|reject|cancel|journal|ack|resolve|watch``: the human's side of orders.

The model can only preview. Here the operator sees every pending order with its one-time code and
E*TRADE's full preview, and either confirms it (after typing ``yes`` on a terminal, or with
``--yes`` in a script) or rejects it. The journal subcommands report requests whose outcome was
unknown and how reconciliation settled them.
"""

from __future__ import annotations

import argparse
import sys
import time
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from cli import exit_codes
from cli.commands import INT64_MAX, add_command, whole_number
from cli.commands.accounts import resolve_account

if TYPE_CHECKING:
    from cli.main import Context
    from protos.broker.v1 import operator_pb2, orders_pb2

CONFIRM_WORD = "yes"


def register(commands: Any) -> None:
    orders = add_command(
        commands,
        "orders",
        help="orders: list them, confirm or reject pending ones, cancel, read the journal",
        description="Orders at E*TRADE and the ones waiting for your confirmation.\n\n"
        "The model can only preview an order. It then waits here, with a one-time code, until you\n"
        "confirm it (or tell the model the code) — or reject it, or let it expire.",
        examples="  etradectl orders pending                  what waits for you, with the codes\n"
        "  etradectl orders confirm pnd_1a2b3c4d5e   review the full preview, type yes to place it\n"
        "  etradectl orders reject pnd_1a2b3c4d5e\n"
        "  etradectl orders list ACCOUNT --status OPEN\n"
        "  etradectl orders cancel 1234 --account ACCOUNT\n"
        "  etradectl orders journal                  requests whose outcome needed checking\n"
        "  etradectl orders watch                    follow fills and other order events live",
    )
    sub = orders.add_subparsers(title="orders commands", metavar="COMMAND")

    listing = add_command(
        sub,
        "list",
        help="orders of an account at E*TRADE",
        description="Orders of one account, newest first (the last 30 days unless --from/--to say otherwise).",
        examples="  etradectl orders list\n  etradectl orders list ACCOUNT --status OPEN\n"
        "  etradectl --json orders list ACCOUNT --from 2026-03-01 --to 2026-03-10 --symbol KO",
    )
    listing.add_argument("account", nargs="?", metavar="ACCOUNT", help="account_id_key (see `etradectl accounts`)")
    listing.add_argument(
        "--status", choices=["OPEN", "EXECUTED", "CANCELLED", "CANCEL_REQUESTED", "EXPIRED", "REJECTED"]
    )
    listing.add_argument("--from", dest="from_date", metavar="YYYY-MM-DD", help="first day (default: 30 days ago)")
    listing.add_argument("--to", dest="to_date", metavar="YYYY-MM-DD", help="last day (default: today)")
    listing.add_argument("--symbol")
    listing.add_argument(
        "--limit", type=whole_number(1, 500), default=25, help="most orders to show, 1-500 (default 25)"
    )
    listing.set_defaults(handler=run_list)

    pending = add_command(
        sub,
        "pending",
        help="orders and cancels waiting for your confirmation, with their codes",
        description="Pending orders and cancels with their one-time confirmation codes. Give a code to the\n"
        "model only for an order you want placed; or confirm here with `etradectl orders confirm`.",
        examples="  etradectl orders pending\n  etradectl --json orders pending",
    )
    pending.set_defaults(handler=run_pending)

    show = add_command(
        sub,
        "show",
        help="a pending order (pnd_…) in full, or an order at E*TRADE",
        description="Show a pending order with E*TRADE's preview and its code, or an order (needs --account\n"
        "when you have several accounts).",
        examples="  etradectl orders show pnd_1a2b3c4d5e\n  etradectl orders show 1234 --account ACCOUNT",
    )
    show.add_argument("id", metavar="PENDING_ID|ORDER_ID")
    show.add_argument("--account", help="account_id_key, for an order id")
    show.set_defaults(handler=run_show)

    confirm = add_command(
        sub,
        "confirm",
        help="review a pending order or cancel and send it to E*TRADE",
        description="Shows the full preview, then asks you to type yes. Without a terminal it refuses unless\n"
        "--yes is given.",
        examples="  etradectl orders confirm pnd_1a2b3c4d5e\n  etradectl --json orders confirm pnd_1a2b3c4d5e --yes",
    )
    confirm.add_argument("pending_id", metavar="PENDING_ID")
    confirm.add_argument("--yes", action="store_true", help="do not ask (scripts); you still see what is sent")
    confirm.set_defaults(handler=run_confirm)

    reject = add_command(
        sub,
        "reject",
        help="reject a pending order or cancel",
        description="It can no longer be confirmed.",
        examples="  etradectl orders reject pnd_1a2b3c4d5e",
    )
    reject.add_argument("pending_id", metavar="PENDING_ID")
    reject.set_defaults(handler=run_reject)

    cancel = add_command(
        sub,
        "cancel",
        help="cancel an open order (asks for yes)",
        description="Creates a pending cancel of an OPEN order and confirms it after you type yes (or --yes).",
        examples="  etradectl orders cancel 1234\n  etradectl orders cancel 1234 --account ACCOUNT --yes",
    )
    cancel.add_argument("order_id", type=whole_number(1, INT64_MAX), metavar="ORDER_ID")
    cancel.add_argument("--account", help="account_id_key (optional with a single account)")
    cancel.add_argument("--yes", action="store_true", help="do not ask")
    cancel.set_defaults(handler=run_cancel)

    journal = add_command(
        sub,
        "journal",
        help="place/cancel requests whose outcome needs your attention",
        description="The daemon journals every place and cancel request before sending it. When the answer\n"
        "is lost (timeout, crash) it never re-sends: it looks for the order in E*TRADE's list and reports\n"
        "here. Reconciliation runs before this listing.",
        examples="  etradectl orders journal\n  etradectl orders journal --all",
    )
    journal.add_argument("--all", action="store_true", help="every recent entry, not just those needing attention")
    journal.add_argument(
        "--limit", type=whole_number(1, 10_000), default=100, help="most entries to show, 1-10000 (default 100)"
    )
    journal.set_defaults(handler=run_journal)

    ack = add_command(
        sub,
        "ack",
        help="mark a reconciled journal entry as seen",
        description="Mark a journal entry whose outcome was settled by reconciliation as seen.",
        examples="  etradectl orders ack 12",
    )
    ack.add_argument("entry", type=whole_number(1, INT64_MAX), metavar="ENTRY")
    ack.set_defaults(handler=run_ack)

    resolve = add_command(
        sub,
        "resolve",
        help="record what you found at E*TRADE for an entry whose outcome is unknown",
        description="After checking at E*TRADE: the order the request became, or that it did not happen.",
        examples="  etradectl orders resolve 12 --order-id 4567\n  etradectl orders resolve 12 --not-placed",
    )
    resolve.add_argument("entry", type=whole_number(1, INT64_MAX), metavar="ENTRY")
    choice = resolve.add_mutually_exclusive_group(required=True)
    choice.add_argument("--order-id", type=whole_number(1, INT64_MAX), default=0)
    choice.add_argument("--not-placed", action="store_true")
    resolve.set_defaults(handler=run_resolve)

    watch = add_command(
        sub,
        "watch",
        help="follow order status changes, fills, pending orders, trading and session events",
        description="Follow what happens, live, until Ctrl-C: orders placed, filled (partly or fully),\n"
        "cancelled, rejected or expired — also orders placed outside etrade-mcp, which the daemon's\n"
        "fill watcher notices — pending orders waiting for you, halts and the session's state.",
        examples="  etradectl orders watch\n  etradectl --json orders watch     one JSON object per line",
    )
    watch.set_defaults(handler=_run_watch)

    orders.set_defaults(handler=lambda ctx, args: _help(orders))


async def _run_watch(ctx: Context, args: argparse.Namespace) -> int:
    from cli.commands.watch import run_watch

    return await run_watch(ctx, args)


async def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return exit_codes.USAGE


# -- rendering -------------------------------------------------------------------------------


def usd(text: str) -> str:
    """A decimal string as money: ``1234.5`` → ``1,234.50``; empty stays ``-``."""
    if not text:
        return "-"
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    exponent = value.as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{value:,.{min(places, 4)}f}"


def when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000)) if ms else "-"


def _remaining(expires_ms: int, as_of_ms: int) -> str:
    """Time left by the daemon's clock (the emulator's may be days away from this machine's)."""
    now = as_of_ms / 1000 if as_of_ms else time.time()  # a daemon older than API 1.3 sends no time
    left = int(expires_ms / 1000 - now)
    return f"in {left // 60} min {left % 60:02d} s" if left > 0 else "expired"


def pending_pairs(p: orders_pb2.PendingOrder, code: str, as_of_ms: int) -> list[tuple[str, str]]:
    pairs = [("pending", f"{p.pending_id} ({p.kind}, {p.state})"), ("order", p.summary), ("account", p.account_id_key)]
    if p.kind == "PLACE":
        description = f" ({p.symbol_description})" if p.symbol_description else ""
        pairs.append(("symbol", f"{p.order.symbol}{description}"))
        total = p.preview.estimated_total_amount
        pairs.append(
            ("estimated total", f"{usd(total)} USD (E*TRADE's estimate{', proceeds' if total.startswith('-') else ''})")
        )
        pairs.append(("commission", usd(p.preview.estimated_commission)))
        pairs.append(("market price", f"{usd(p.reference_price)} (the live quote it was checked against)"))
        if p.preview.buying_power:
            pairs.append(("buying power", f"{usd(p.preview.buying_power)} -> {usd(p.preview.buying_power_after)}"))
        pairs.extend(("E*TRADE says", f"[{m.type} {m.code}] {m.description}") for m in p.preview.messages)
    else:
        target = p.cancel_target
        pairs.append(("cancels", f"order {target.order_id}: {target.action} {target.ordered_quantity} {target.symbol} "
                                 f"{target.price_type} ({target.status})"))  # fmt: skip
    pairs.extend(("WARNING", f"{w.check}: {w.message}") for w in p.warnings)
    pairs.append(("expires", f"{p.expires_at_et} ({_remaining(p.expires_at_unix_ms, as_of_ms)})"))
    if code:
        pairs.append(("code", code))
    pairs.append(("digest", p.digest))
    return pairs


def order_row(o: orders_pb2.Order) -> list[str]:
    price = o.limit_price or o.stop_price or ""
    return [
        str(o.order_id),
        when(o.placed_at_unix_ms),
        o.action,
        o.ordered_quantity,
        o.symbol,
        o.price_type + (f" {price}" if price else ""),
        o.order_term,
        o.status,
        o.filled_quantity,
        usd(o.average_execution_price),
    ]


ORDER_HEADERS = ["ORDER", "PLACED", "ACTION", "QTY", "SYMBOL", "TYPE", "TERM", "STATUS", "FILLED", "AVG PRICE"]


def journal_row(e: operator_pb2.JournalEntry) -> list[str]:
    flag = "!" if e.needs_attention else ""
    return [
        f"{e.id}{flag}",
        when(e.created_at_unix_ms),
        e.kind,
        f"{e.action} {e.quantity} {e.symbol}",
        e.state,
        str(e.order_id or "-"),
        e.detail,
    ]


# -- handlers --------------------------------------------------------------------------------


async def run_list(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    key = await resolve_account(ctx, args.account)
    response = await ctx.client().list_orders(
        key,
        status=args.status or "",
        from_date=args.from_date or "",
        to_date=args.to_date or "",
        symbol=args.symbol or "",
        limit=args.limit,
    )
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(response))
    elif not response.orders:
        ctx.out.info("no orders in that period")
    else:
        ctx.out.table(ORDER_HEADERS, [order_row(o) for o in response.orders], right=(0, 3, 8, 9))
    return exit_codes.OK


async def _find_pending(ctx: Context, pending_id: str) -> tuple[operator_pb2.PendingWithCode, int]:
    """The pending order and the daemon's time of the answer (for the time left)."""
    from broker_client.errors import ErrorCode, NotFound

    listing = await ctx.client().list_pending()
    for item in listing.pending:
        if item.pending.pending_id == pending_id.strip():
            return item, listing.as_of_unix_ms
    raise NotFound(
        ErrorCode.PENDING_NOT_FOUND,
        f"no pending order {pending_id!r} waits for a confirmation (it was used, rejected, voided or expired)",
        hint="see what waits with `etradectl orders pending`",
    )


async def run_pending(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    listing = await ctx.client().list_pending()
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(listing))
        return exit_codes.OK
    if listing.pending:
        rows = [
            [
                item.pending.pending_id,
                item.confirmation_code,
                item.pending.summary,
                usd(item.pending.preview.estimated_total_amount) if item.pending.kind == "PLACE" else "-",
                str(len(item.pending.warnings)),
                _remaining(item.pending.expires_at_unix_ms, listing.as_of_unix_ms),
            ]
            for item in listing.pending
        ]
        ctx.out.table(["PENDING", "CODE", "ORDER", "EST. TOTAL", "WARNINGS", "EXPIRES"], rows, right=(3, 4))
        ctx.out.info(
            "\nconfirm with `etradectl orders confirm PENDING` (or tell the model the code); reject with `etradectl orders reject PENDING`"
        )
    else:
        ctx.out.info("nothing waits for a confirmation")
    if listing.journal_attention:
        ctx.out.warn(
            f"{listing.journal_attention} journal entr{'y needs' if listing.journal_attention == 1 else 'ies need'} your attention: `etradectl orders journal`"
        )
    return exit_codes.OK


async def run_show(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    if args.id.startswith("pnd_"):
        item, as_of = await _find_pending(ctx, args.id)
        if ctx.out.json_mode:
            ctx.out.json(message_to_dict(item))
        else:
            ctx.out.pairs(pending_pairs(item.pending, item.confirmation_code, as_of))
        return exit_codes.OK
    if not args.id.isdigit() or not 0 < int(args.id) <= INT64_MAX:
        from broker_client.errors import ErrorCode, InvalidRequest

        raise InvalidRequest(
            ErrorCode.INVALID_ARGUMENT, f"{args.id!r} is neither a pending id (pnd_…) nor an order number"
        )
    key = await resolve_account(ctx, args.account)
    order = (await ctx.client().get_order(key, int(args.id))).order
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(order))
        return exit_codes.OK
    ctx.out.pairs(
        [
            ("order", f"{order.order_id} ({order.status})"),
            ("account", order.account_id_key),
            ("what", f"{order.action} {order.ordered_quantity} {order.symbol} {order.price_type}"),
            ("limit / stop", f"{order.limit_price or '-'} / {order.stop_price or '-'}"),
            ("term", f"{order.order_term} {order.market_session}"),
            ("placed", when(order.placed_at_unix_ms)),
            ("executed", when(order.executed_at_unix_ms)),
            ("filled", f"{order.filled_quantity} at {usd(order.average_execution_price)}"),
            ("commission", usd(order.estimated_commission)),
        ]
    )
    return exit_codes.OK


def _ask(ctx: Context, question: str) -> bool:
    ctx.out.stderr.write(f"\n{question} Type {CONFIRM_WORD!r} to confirm: ")
    ctx.out.stderr.flush()
    try:
        answer = sys.stdin.readline()
    except (EOFError, KeyboardInterrupt):
        return False
    return answer.strip().lower() == CONFIRM_WORD


def _approved(ctx: Context, args: argparse.Namespace, question: str) -> int | None:
    """None when the human approved; otherwise the exit status to return."""
    if args.yes:
        return None
    if not sys.stdin.isatty():
        ctx.out.error(
            "nothing was sent: confirming needs a terminal to type yes in",
            "run it in a terminal, or add --yes in a script (you have seen what it sends above)",
        )
        return exit_codes.POLICY
    if not _ask(ctx, question):
        ctx.out.error("nothing was sent: you did not type yes", "run the command again to confirm, or reject it")
        return exit_codes.POLICY
    return None


async def _confirm(ctx: Context, args: argparse.Namespace, found: tuple[operator_pb2.PendingWithCode, int]) -> int:
    from broker_client.wire import message_to_dict

    item, as_of = found
    pending, code = item.pending, item.confirmation_code
    # The preview goes to stderr in --json mode so stdout stays one JSON document.
    ctx.out.pairs(pending_pairs(pending, code, as_of), err=ctx.out.json_mode)
    question = "Place this order at E*TRADE?" if pending.kind == "PLACE" else "Send this cancel to E*TRADE?"
    refused = _approved(ctx, args, question)
    if refused is not None:
        return refused
    result = await ctx.client().confirm_pending(pending.pending_id, pending.digest)
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(result))
    elif result.HasField("placed"):
        placed = result.placed
        ctx.out.line(f"placed: order {placed.order_id} (journal entry {placed.journal_entry})")
        for message in placed.messages:
            ctx.out.line(f"E*TRADE says: {message.description}")
    else:
        cancelled = result.cancelled
        ctx.out.line(f"cancel sent for order {cancelled.order_id} (journal entry {cancelled.journal_entry})")
        for message in cancelled.messages:
            ctx.out.line(f"E*TRADE says: {message.description.strip()}")
    return exit_codes.OK


async def run_confirm(ctx: Context, args: argparse.Namespace) -> int:
    return await _confirm(ctx, args, await _find_pending(ctx, args.pending_id))


async def run_reject(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    rejected = await ctx.client().reject_pending(args.pending_id.strip())
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(rejected))
    else:
        ctx.out.line(f"rejected {rejected.pending.pending_id}: {rejected.pending.summary}")
    return exit_codes.OK


async def run_cancel(ctx: Context, args: argparse.Namespace) -> int:
    key = await resolve_account(ctx, args.account)
    pending = (await ctx.client().request_cancel(key, args.order_id)).pending
    return await _confirm(ctx, args, await _find_pending(ctx, pending.pending_id))


async def run_journal(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    report = await ctx.client().journal(everything=args.all, limit=args.limit)
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(report))
    elif report.entries:
        ctx.out.table(
            ["ENTRY", "SENT", "KIND", "WHAT", "STATE", "ORDER", "DETAIL"], [journal_row(e) for e in report.entries]
        )
        if any(e.needs_attention for e in report.entries):
            ctx.out.info("\n! needs attention: `etradectl orders ack ENTRY` once seen; "
                         "`etradectl orders resolve ENTRY` for an unknown outcome you checked at E*TRADE")  # fmt: skip
    else:
        ctx.out.info("nothing needs your attention" if not args.all else "the journal is empty")
    if report.reconcile_problem:
        ctx.out.warn(report.reconcile_problem)
    return exit_codes.OK


async def run_ack(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    entry = await ctx.client().acknowledge_journal_entry(args.entry)
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(entry))
    else:
        ctx.out.line(f"entry {entry.id} ({entry.state}) marked as seen")
    return exit_codes.OK


async def run_resolve(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    entry = await ctx.client().resolve_journal_entry(args.entry, order_id=args.order_id, not_placed=args.not_placed)
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(entry))
    else:
        ctx.out.line(f"entry {entry.id} is now {entry.state}: {entry.detail}")
    return exit_codes.OK
