"""End to end with separate processes: the history tools over real stdio, and `etradectl transactions`
(table, JSON, CSV) against the emulator and the daemon."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from cli import exit_codes
from tests.harness.processes import System, login_with_etradectl, running_system

pytestmark = pytest.mark.anyio


def proxy(system: System) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_proxy", "--socket", str(system.socket)], env=system.env
    )


def text(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in getattr(result, "content", []))


def margin_key(system: System) -> str:
    accounts = system.ctl("--json", "accounts").json()["accounts"]
    return str(next(a["account_id_key"] for a in accounts if a["account_mode"] == "MARGIN"))


def one_year_ago(system: System) -> str:
    # The emulator runs on the real clock here; E*TRADE's calendar is US Eastern.
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    return (datetime.now(ZoneInfo("America/New_York")).date() - timedelta(days=365)).isoformat()


async def test_history_over_stdio_and_etradectl(short_dir: Path) -> None:
    with running_system(short_dir) as system:
        login_with_etradectl(system.env, system.socket)
        key = margin_key(system)
        start = one_year_ago(system)

        with anyio.fail_after(90):
            async with Client(proxy(system)) as mcp:
                listed = await mcp.call_tool(
                    "get_transactions", {"account_id_key": key, "start_date": start, "limit": 200}
                )
                assert not listed.is_error, text(listed)
                content = listed.structured_content
                assert content is not None and content["transactions"]
                kinds = {row["kind"] for row in content["transactions"]}
                assert {"BUY", "SELL", "DIVIDEND", "INTEREST"} & kinds
                first = content["transactions"][0]
                details = await mcp.call_tool(
                    "get_transaction_details", {"account_id_key": key, "transaction_id": first["transaction_id"]}
                )
                assert not details.is_error, text(details)
                assert details.structured_content is not None
                assert details.structured_content["transaction"]["amount"] == first["amount"]
                missing = await mcp.call_tool(
                    "get_transaction_details", {"account_id_key": key, "transaction_id": "99001000000001"}
                )
                assert missing.is_error and "TRANSACTION_NOT_FOUND" in text(missing)

                inbox = await mcp.call_tool("list_alerts", {"status": "UNREAD"})
                assert not inbox.is_error, text(inbox)
                assert inbox.structured_content is not None
                unread = inbox.structured_content["alerts"]
                assert unread and {a["status"] for a in unread} == {"UNREAD"}
                alert = await mcp.call_tool("get_alert_details", {"alert_id": unread[0]["alert_id"]})
                assert not alert.is_error, text(alert)
                assert alert.structured_content is not None and "<" not in alert.structured_content["message"]
                names = {tool.name for tool in (await mcp.list_tools()).tools}
                assert {"get_transactions", "list_alerts"} <= names
                assert not {name for name in names if "delete" in name}

        as_json = system.ctl("--json", "transactions", key, "--from", start)
        assert as_json.code == exit_codes.OK, as_json.stderr
        document = as_json.json()
        assert [t["transaction_id"] for t in document["transactions"]] == [
            t["transaction_id"] for t in content["transactions"]
        ]

        exported = system.ctl("transactions", key, "--from", start, "--csv")
        assert exported.code == exit_codes.OK, exported.stderr
        rows = list(csv.reader(io.StringIO(exported.stdout)))
        assert rows[0] == [
            "date", "transaction_id", "kind", "type", "symbol", "quantity", "price", "fee", "amount", "description",
        ]  # fmt: skip
        assert len(rows) - 1 == len(document["transactions"])
        total = sum(float(row[8]) for row in rows[1:])
        summary = document["summary"]
        net = summary["sold"] - summary["bought"] + summary["dividends"] + summary["interest"] - summary["fees"]
        assert total == pytest.approx(net + summary["net_transfers"], abs=0.05)

        dividends = system.ctl("transactions", key, "--from", start, "--kind", "dividend")
        assert dividends.code == exit_codes.OK, dividends.stderr
        header = dividends.stdout.splitlines()[0].split()
        assert header[:3] == ["DATE", "KIND", "SYMBOL"]
        assert "dividends" in dividends.stdout and "period" in dividends.stdout

        both = system.ctl("--json", "transactions", key, "--csv")
        assert both.code == exit_codes.INVALID and "--csv and --json" in both.stderr
        bad_date = system.ctl("transactions", key, "--from", "03/01/2026")
        assert bad_date.code == exit_codes.USAGE and "expected a date like 2026-03-10" in bad_date.stderr
        too_old = system.ctl("transactions", key, "--from", "2019-01-01", "--to", "2019-02-01")
        assert too_old.code == exit_codes.INVALID and "three years" in too_old.stderr

        inbox_table = system.ctl("alerts")
        assert inbox_table.code == exit_codes.OK, inbox_table.stderr
        assert inbox_table.stdout.splitlines()[0].split() == ["ID", "CREATED", "STATUS", "SUBJECT"]
        ids = [int(line.split()[0]) for line in inbox_table.stdout.splitlines()[1:] if line.strip()]
        assert len(ids) >= 5
        shown = system.ctl("alerts", "show", str(ids[0]))
        assert shown.code == exit_codes.OK, shown.stderr
        assert str(ids[0]) in shown.stdout and "subject" in shown.stdout and "<" not in shown.stdout
        deleted = system.ctl("alerts", "delete", str(ids[0]), str(ids[1]))
        assert (deleted.code, deleted.stdout.strip()) == (exit_codes.OK, f"deleted: {ids[0]} {ids[1]}")
        trash = system.ctl("--json", "alerts", "list", "--status", "DELETED").json()
        assert {a["alert_id"] for a in trash["alerts"]} == {ids[0], ids[1]}
        again = system.ctl("alerts", "delete", str(ids[0]))
        assert again.code == exit_codes.INVALID and "not deleted" in again.stderr
        unknown = system.ctl("alerts", "show", "987654")
        assert unknown.code == exit_codes.INVALID and "hint: use an alert_id returned by list_alerts" in unknown.stderr
