"""``make demo``: the real system on the local E*TRADE emulator, end to end.

Starts the emulator and etrade-daemon as separate processes, logs in with the real OAuth 1.0a
exchange (the authorize page is read the way a browser would), drives etrade-mcp over stdio with
the MCP SDK's client — list tools, quotes, accounts, a portfolio — then lets the model preview an
order that only the human can confirm (``etradectl orders pending`` / ``confirm``), shows
``etradectl status`` and the audit log, and shuts everything down. Nothing touches your real configuration: all state lives in a temporary
home directory that is removed afterwards.

It starts the processes with the end-to-end tests' harness (tests/harness/processes.py) rather than
a copy of it, so it runs from a checkout only and the wheel leaves it out (pyproject.toml).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

from tests.harness.processes import System, login_with_etradectl, running_system


def say(text: str = "") -> None:
    print(text, flush=True)


def section(title: str) -> None:
    say(f"\n== {title} " + "=" * max(0, 70 - len(title)))


def show_ctl(output: str) -> None:
    for line in output.rstrip().splitlines():
        say(f"  {line}")


async def drive_orders(system: System, key: str) -> None:
    """The model previews; the human sees the code in etradectl and confirms there."""
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_proxy", "--socket", str(system.socket)], env=system.env
    )
    quote: Any = system.ctl("--json", "quote", "KO").json()["quotes"][0]
    limit = f"{quote['ask'] + 0.25:.2f}"
    async with Client(params) as mcp:
        section(f"preview_order: BUY 5 KO LIMIT {limit} (the model prepares, nothing is sent)")
        result = await mcp.call_tool(
            "preview_order",
            {
                "account_id_key": key,
                "symbol": "KO",
                "order_action": "BUY",
                "quantity": 5,
                "price_type": "LIMIT",
                "limit_price": limit,
            },
        )
        pending: Any = result.structured_content
        say(f"  pending {pending['pending_id']}: {pending['summary']}")
        say(f"  E*TRADE estimate {pending['preview']['estimated_total_amount']} USD, commission "
            f"{pending['preview']['estimated_commission']}, expires {pending['expires_at_et']}")  # fmt: skip
        for warning in pending["warnings"]:
            say(f"  warning: {warning['check']}: {warning['message']}")
        say("  the model's result carries no code; it tells the model:")
        say(f"    {pending['confirm_instructions'][:150]}…")

        guess = await mcp.call_tool(
            "place_order_confirmed", {"pending_id": pending["pending_id"], "confirmation_code": "GUES-SING"}
        )
        section("place_order_confirmed with a guessed code")
        say(f"  refused: {' '.join(getattr(b, 'text', '') for b in guess.content)[:160]}")

    section("etradectl orders pending (the human's side: the code)")
    show_ctl(system.ctl("orders", "pending").stdout)
    section(f"etradectl orders confirm {pending['pending_id']} --yes")
    show_ctl(system.ctl("orders", "confirm", pending["pending_id"], "--yes").stdout)
    section("etradectl orders list")
    show_ctl(system.ctl("orders", "list", key).stdout)


async def drive_proxy(env: dict[str, str], socket: Path) -> None:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_proxy", "--socket", str(socket)], env=env)
    async with Client(params) as mcp:
        tools = (await mcp.list_tools()).tools
        section(f"etrade-mcp over stdio: {len(tools)} tools")
        for tool in tools:
            say(f"  {tool.name:<22} {(tool.description or '').splitlines()[0]}")

        section("get_multiple_quotes ['AAPL', 'MSFT', 'NVDA', 'SPY', 'NOPEQ']")
        quotes: Any = (
            await mcp.call_tool("get_multiple_quotes", {"symbols": ["AAPL", "MSFT", "NVDA", "SPY", "NOPEQ"]})
        ).structured_content
        say(f"  {'SYMBOL':<7} {'LAST':>10} {'CHANGE%':>8} {'BID':>10} {'ASK':>10}  COMPANY")
        for q in quotes["quotes"]:
            say(
                f"  {q['symbol']:<7} {q['last_trade']:>10.2f} {q['change_percent']:>+7.2f}% "
                f"{q['bid']:>10.2f} {q['ask']:>10.2f}  {q['company_name']}"
            )
        for e in quotes["errors"]:
            say(f"  {e['symbol']:<7} -> {e['code']}: {e['message']}")

        accounts: Any = (await mcp.call_tool("list_accounts", {})).structured_content
        section(f"list_accounts: {len(accounts['accounts'])} open accounts")
        for a in accounts["accounts"]:
            say(
                f"  {a['account_id_key']}  {a['account_number_masked']}  {a['account_type']:<10} {a['account_mode']:<7} {a['description']}"
            )

        key = accounts["accounts"][0]["account_id_key"]
        result = await mcp.call_tool("get_portfolio", {"account_id_key": key})
        portfolio: Any = result.structured_content
        section(f"get_portfolio {key}")
        say(f"  {'SYMBOL':<7} {'QTY':>8} {'LAST':>10} {'VALUE':>12} {'GAIN':>11} {'GAIN%':>8}")
        for p in portfolio["positions"]:
            say(
                f"  {p['symbol']:<7} {p['quantity']:>8g} {p['last_price']:>10.2f} {p['market_value']:>12,.2f} "
                f"{p['total_gain']:>+11,.2f} {p['total_gain_percent']:>+7.2f}%"
            )
        totals = portfolio["totals"]
        say(f"  total market value {totals['total_market_value']:,.2f}, gain {totals['total_gain']:+,.2f}")

        balance: Any = (await mcp.call_tool("get_account_balance", {"account_id_key": key})).structured_content
        say(
            f"  account value {balance['total_account_value']:,.2f}, cash buying power {balance['cash_buying_power']:,.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary home directory (logs, state)")
    args = parser.parse_args(argv)

    home = Path(tempfile.mkdtemp(prefix="etrade-demo-", dir="/tmp"))
    try:
        section("starting the E*TRADE emulator and etrade-daemon")
        # Trading on (the default is read-only): the demo shows the human confirming an order.
        with running_system(home, "--no-read-only", env_extra={"ETRADE_DESKTOP_NOTIFICATIONS": "false"}) as system:
            say(f"  emulator: {system.emulator_url}")
            say(f"  daemon:   {system.socket}")

            section("etradectl status (before login)")
            show_ctl(system.ctl("status").stdout)

            section("etradectl auth login (OAuth 1.0a: request token, authorize page, access token)")
            login_with_etradectl(system.env, system.socket)
            say("  logged in")

            anyio.run(drive_proxy, system.env, system.socket)
            accounts = system.ctl("--json", "accounts").json()["accounts"]
            margin = next(a["account_id_key"] for a in accounts if a["account_mode"] == "MARGIN")
            anyio.run(drive_orders, system, margin)

            section("etradectl status")
            show_ctl(system.ctl("status").stdout)

            section("etradectl audit (newest entries) and audit verify")
            show_ctl(system.ctl("audit", "--limit", "6").stdout)
            show_ctl(system.ctl("audit", "verify").stdout)

            section("shutting down")
            code = system.daemon.terminate()
            say(f"  etrade-daemon exited with status {code}")
            if code != 0:
                say(system.daemon.stderr_text)
                return 1
        say("\ndemo finished: the real daemon, proxy and CLI ran against the local E*TRADE emulator.")
        return 0
    finally:
        if args.keep:
            say(f"state kept in {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
