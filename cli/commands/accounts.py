"""``etradectl accounts|balance|portfolio``."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from cli import exit_codes
from cli.commands import add_command
from cli.output import money, number, signed

if TYPE_CHECKING:
    from cli.main import Context


def register(commands: Any) -> None:
    accounts = add_command(
        commands,
        "accounts",
        help="list your accounts and their keys",
        description="List E*TRADE accounts with the account_id_key the other commands take.",
        examples="  etradectl accounts\n  etradectl accounts --all      include closed accounts",
    )
    accounts.add_argument("--all", action="store_true", help="include closed accounts")
    accounts.set_defaults(handler=run_accounts)

    balance = add_command(
        commands,
        "balance",
        help="an account's balances and buying power",
        description="Balances of one account. ACCOUNT may be omitted when you have a single open account.",
        examples="  etradectl balance\n  etradectl balance dBZOKt9xDrtRSAOl4MSiiA",
    )
    balance.add_argument("account", nargs="?", metavar="ACCOUNT", help="account_id_key (see `etradectl accounts`)")
    balance.set_defaults(handler=run_balance)

    portfolio = add_command(
        commands,
        "portfolio",
        help="an account's positions with gains",
        description="Every position of one account with cost basis, value and gains, and the totals.\n"
        "ACCOUNT may be omitted when you have a single open account.",
        examples="  etradectl portfolio\n  etradectl --json portfolio dBZOKt9xDrtRSAOl4MSiiA",
        aliases=("positions",),
    )
    portfolio.add_argument("account", nargs="?", metavar="ACCOUNT", help="account_id_key (see `etradectl accounts`)")
    portfolio.set_defaults(handler=run_portfolio)


async def resolve_account(ctx: Context, account: str | None) -> str:
    """The given key, or the only open account's key; otherwise a usage error listing the keys."""
    if account:
        return account
    from broker_client.errors import ErrorCode, InvalidRequest

    listing = await ctx.client().list_accounts()
    if len(listing.accounts) == 1:
        return listing.accounts[0].account_id_key
    keys = ", ".join(f"{a.account_id_key} ({a.description or a.account_type})" for a in listing.accounts)
    raise InvalidRequest(
        ErrorCode.INVALID_ARGUMENT,
        "you have several accounts; say which one",
        hint=(f"give one of: {keys}" if keys else "no open accounts were found")
        + (
            "; a key that starts with '-' goes after `--` or as --account=KEY"
            if any(a.account_id_key.startswith("-") for a in listing.accounts)
            else ""
        ),
    )


async def run_accounts(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    response = await ctx.client().list_accounts(include_closed=args.all)
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(response))
        return exit_codes.OK
    rows = [
        [a.account_id_key, a.account_number_masked, a.account_type, a.account_mode, a.description or a.name, a.status]
        for a in response.accounts
    ]
    ctx.out.table(["ACCOUNT KEY", "NUMBER", "TYPE", "MODE", "DESCRIPTION", "STATUS"], rows)
    return exit_codes.OK


async def run_balance(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    key = await resolve_account(ctx, args.account)
    b = (await ctx.client().get_balance(key)).balance
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(b))
        return exit_codes.OK
    ctx.out.pairs(
        [
            ("account", f"{b.account_id_key} ({b.account_type}, {b.account_mode})"),
            ("total value", money(b.total_account_value)),
            ("cash", money(b.cash_balance)),
            ("net cash", money(b.net_cash)),
            ("cash buying power", money(b.cash_buying_power)),
            ("margin buying power", money(b.margin_buying_power)),
            ("available to invest", money(b.cash_available_for_investment)),
            ("long market value", money(b.market_value_long)),
            ("short market value", money(b.market_value_short)),
            ("held for open orders", money(b.funds_for_open_orders)),
            ("as of", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(b.fetched_at_unix_ms / 1000))),
        ]
    )
    return exit_codes.OK


async def run_portfolio(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    key = await resolve_account(ctx, args.account)
    p = await ctx.client().get_portfolio(key)
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(p))
        return exit_codes.OK
    rows = [
        [
            x.symbol,
            x.position_type,
            number(x.quantity),
            money(x.last_price),
            money(x.cost_per_share),
            money(x.market_value),
            signed(x.days_gain),
            signed(x.total_gain),
            signed(x.total_gain_percent, "%"),
            f"{x.percent_of_portfolio:.1f}%",
        ]
        for x in p.positions
    ]
    headers = ["SYMBOL", "SIDE", "QTY", "LAST", "COST/SH", "VALUE", "TODAY", "GAIN", "GAIN%", "WEIGHT"]
    ctx.out.table(headers, rows, right=(2, 3, 4, 5, 6, 7, 8, 9))
    t = p.totals
    ctx.out.line()
    ctx.out.pairs(
        [
            ("market value", money(t.total_market_value)),
            ("cost", money(t.total_cost)),
            ("gain", f"{signed(t.total_gain)} ({signed(t.total_gain_percent, '%')})"),
            ("today", f"{signed(t.todays_gain)} ({signed(t.todays_gain_percent, '%')})"),
        ]
    )
    return exit_codes.OK
