"""Orders end to end with real processes: emulator, daemon, etrade-mcp over stdio, etradectl.

The model previews through etrade-mcp and never sees a code; the human sees it in etradectl and
either confirms there or tells the model. A daemon killed while E*TRADE holds the answer to its
place request comes back, reconciles, and shows exactly one order.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from cli import exit_codes
from tests.harness.processes import ROOT, CtlResult, System, login_with_etradectl, running_system

pytestmark = pytest.mark.anyio

TRADING = "--no-read-only"
QUIET = {"ETRADE_NOTIFY_CODES": "false"}  # no desktop pop-ups from test runs


#: A Tuesday morning on the emulator's clock: MARKET orders are accepted in the regular session only.
REGULAR_SESSION = "2026-03-10T11:00:00-04:00"


@contextmanager
def trading_system(home: Path, *daemon_args: str) -> Iterator[System]:
    with running_system(home, TRADING, *daemon_args, env_extra=QUIET, start=REGULAR_SESSION) as system:
        login_with_etradectl(system.env, system.socket)
        yield system


def proxy(system: System) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_proxy", "--socket", str(system.socket)], env=system.env
    )


def text_of(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


def margin_account(system: System) -> str:
    accounts = system.ctl("--json", "accounts").json()["accounts"]
    return str(next(a["account_id_key"] for a in accounts if a["account_mode"] == "MARGIN"))


def emulator_orders(system: System) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = system.admin("GET", "/orders")["orders"]
    return orders


def pending_codes(system: System) -> dict[str, str]:
    listing = system.ctl("--json", "orders", "pending")
    assert listing.code == exit_codes.OK, listing.stderr
    return {p["pending"]["pending_id"]: p["confirmation_code"] for p in listing.json()["pending"]}


async def preview_over_stdio(system: System, mode: str, key: str, quantity: int) -> dict[str, Any]:
    with anyio.fail_after(60):
        async with Client(proxy(system), mode=mode) as mcp:
            result = await mcp.call_tool(
                "preview_order",
                {
                    "account_id_key": key,
                    "symbol": "KO",
                    "order_action": "BUY",
                    "quantity": quantity,
                    "price_type": "MARKET",
                },
            )
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return {"structured": result.structured_content, "text": text_of(result)}


def etradectl_on_a_terminal(system: System, answer: str, *args: str) -> CtlResult:
    """etradectl with a pseudo-terminal as stdin, typing ``answer`` at the prompt."""
    main, secondary = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "--socket", str(system.socket), *args],
            env=system.env,
            cwd=ROOT,
            stdin=secondary,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(main, f"{answer}\n".encode())
        stdout, stderr = process.communicate(timeout=60)
    finally:
        os.close(main)
        os.close(secondary)
    return CtlResult(process.returncode, stdout, stderr)


@pytest.mark.parametrize("mode", ["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
async def test_the_model_previews_and_the_human_confirms_in_etradectl(short_dir: Path, mode: str) -> None:
    with trading_system(short_dir, "--log-level", "DEBUG") as system:  # not even DEBUG logs show a code
        key = margin_account(system)
        preview = await preview_over_stdio(system, mode, key, 2)
        pending_id = preview["structured"]["pending_id"]
        codes = pending_codes(system)
        code = codes[pending_id]
        assert code not in preview["text"] and code not in str(preview["structured"])
        assert code.replace("-", "") not in preview["text"]

        shown = system.ctl("orders", "pending")
        assert pending_id in shown.stdout and code in shown.stdout and "BUY 2 KO MARKET" in shown.stdout

        no_terminal = system.ctl("orders", "confirm", pending_id)
        assert no_terminal.code == exit_codes.POLICY and "nothing was sent" in no_terminal.stderr
        declined = etradectl_on_a_terminal(system, "no", "orders", "confirm", pending_id)
        assert declined.code == exit_codes.POLICY, declined.stderr
        assert "estimated total" in declined.stdout and code in declined.stdout  # the full preview first
        assert emulator_orders(system) == []

        confirmed = etradectl_on_a_terminal(system, "yes", "orders", "confirm", pending_id)
        assert confirmed.code == exit_codes.OK, confirmed.stderr
        assert "Type 'yes' to confirm" in confirmed.stderr and "placed: order" in confirmed.stdout
        [order] = emulator_orders(system)
        assert (order["symbol"], order["quantity"], order["accountIdKey"]) == ("KO", 2.0, key)
        assert f"placed: order {order['orderId']}" in confirmed.stdout

        listed = system.ctl("--json", "orders", "list", key)
        assert [o["order_id"] for o in listed.json()["orders"]] == [order["orderId"]]
        again = system.ctl("orders", "confirm", pending_id, "--yes")
        assert again.code == exit_codes.INVALID and len(emulator_orders(system)) == 1

        verified = system.ctl("audit", "verify")
        assert verified.code == exit_codes.OK and "intact" in verified.stdout
        audit = system.ctl("--json", "audit", "--limit", "100").json()["entries"]
        events = [e["event"] for e in audit]
        assert {"order.previewed", "confirmation.accepted", "order.placed"} <= set(events)
        assert code not in str(audit) and code.replace("-", "") not in str(audit)
        assert code not in system.daemon.stderr_text and code.replace("-", "") not in system.daemon.stderr_text


@pytest.mark.parametrize("mode", ["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
async def test_the_human_tells_the_model_the_code(short_dir: Path, mode: str) -> None:
    with trading_system(short_dir) as system:
        key = margin_account(system)
        last = system.ctl("--json", "quote", "KO").json()["quotes"][0]["last_trade"]
        resting = f"{last * 0.6:.2f}"  # inside the band, far below the market: it stays OPEN
        with anyio.fail_after(60):
            async with Client(proxy(system), mode=mode) as mcp:
                names = {t.name for t in (await mcp.list_tools()).tools}
                assert {"preview_order", "place_order_confirmed", "cancel_order_confirmed"} <= names
                result = await mcp.call_tool(
                    "preview_order",
                    {
                        "account_id_key": key,
                        "symbol": "KO",
                        "order_action": "BUY",
                        "quantity": 1,
                        "price_type": "LIMIT",
                        "limit_price": resting,
                    },
                )
                pending_id = result.structured_content["pending_id"]
                code = pending_codes(system)[pending_id]
                placed = await mcp.call_tool(
                    "place_order_confirmed", {"pending_id": pending_id, "confirmation_code": code}
                )
                assert not placed.is_error, text_of(placed)
                reused = await mcp.call_tool(
                    "place_order_confirmed", {"pending_id": pending_id, "confirmation_code": code}
                )
                assert reused.is_error and "CONFIRMATION_USED" in text_of(reused)
        [order] = emulator_orders(system)
        order_id = placed.structured_content["order_id"]
        assert order["orderId"] == order_id
        assert system.admin("GET", "/stats")["requests_by_route"]["order_place"] == 1

        # The operator cancels it from etradectl (its own pending cancel, confirmed with --yes).
        cancelled = system.ctl("orders", "cancel", str(order_id), "--account", key, "--yes")
        assert cancelled.code == exit_codes.OK, cancelled.stderr
        assert f"cancel sent for order {order_id}" in cancelled.stdout and "cancels:" in cancelled.stdout
        [after] = emulator_orders(system)
        assert after["status"] in ("CANCEL_REQUESTED", "CANCELLED")


async def test_etradectl_shows_and_rejects_a_pending_order(short_dir: Path) -> None:
    with trading_system(short_dir) as system:
        key = margin_account(system)
        preview = await preview_over_stdio(system, "auto", key, 1)
        pending_id = preview["structured"]["pending_id"]
        code = pending_codes(system)[pending_id]
        shown = system.ctl("orders", "show", pending_id)
        assert shown.code == exit_codes.OK and code in shown.stdout and "estimated total" in shown.stdout
        rejected = system.ctl("orders", "reject", pending_id)
        assert rejected.code == exit_codes.OK and "rejected" in rejected.stdout
        assert pending_codes(system) == {}
        late = system.ctl("orders", "confirm", pending_id, "--yes")
        assert late.code == exit_codes.INVALID and "orders pending" in late.stderr
        assert emulator_orders(system) == []


async def test_read_only_is_the_default_and_hides_the_order_tools(short_dir: Path) -> None:
    with running_system(short_dir, env_extra=QUIET) as system:
        login_with_etradectl(system.env, system.socket)
        with anyio.fail_after(60):
            async with Client(proxy(system)) as mcp:
                names = {t.name for t in (await mcp.list_tools()).tools}
        assert "list_orders" in names and "preview_order" not in names and "place_order_confirmed" not in names
        assert "read-only" in system.ctl("halt").stdout  # the switch works, and says why nothing trades anyway
        assert system.ctl("resume").code == exit_codes.OK


def test_kill_9_while_the_place_request_is_in_flight_reconciles_to_one_order(short_dir: Path) -> None:
    with trading_system(short_dir) as system:
        key = margin_account(system)
        preview = anyio.run(preview_over_stdio, system, "auto", key, 3)
        pending_id = preview["structured"]["pending_id"]
        system.admin("POST", "/faults", {"match": "order_place", "hold": True, "count": 1})

        confirming: list[CtlResult] = []
        thread = threading.Thread(
            target=lambda: confirming.append(system.ctl("orders", "confirm", pending_id, "--yes")), daemon=True
        )
        thread.start()
        held = system.admin("GET", "/holds?wait=30", timeout=40)["holds"]
        assert [h["route"] for h in held] == ["order_place"]  # E*TRADE has the order; the daemon has no answer

        system.daemon.kill()  # SIGKILL: no cleanup, no goodbye
        thread.join(60)
        # Not "start the daemon and try again": the order may have been placed.
        assert confirming and confirming[0].code == exit_codes.UPSTREAM, confirming
        assert "may or may not have been sent" in confirming[0].stderr and "orders journal" in confirming[0].stderr
        system.admin("POST", "/holds/release", {})

        restarted = system.restart_daemon(TRADING)
        restarted.wait_for_stderr(r"journal: entry 1 .* was in flight when the daemon stopped")
        report = system.ctl("--json", "orders", "journal")
        assert report.code == exit_codes.OK, report.stderr
        [entry] = report.json()["entries"]
        [order] = emulator_orders(system)
        assert entry["state"] == "PLACED" and entry["reconciled"] and entry["needs_attention"]
        assert entry["order_id"] == order["orderId"] and "WAS placed" in entry["detail"]
        shown = system.ctl("orders", "journal")
        assert "PLACED" in shown.stdout and str(order["orderId"]) in shown.stdout
        assert "1 journal entry needs your attention" in system.ctl("orders", "pending").stderr

        # No duplicate: nothing was re-sent, and the pending order died with the old daemon.
        assert system.admin("GET", "/stats")["requests_by_route"]["order_place"] == 1
        retry = system.ctl("orders", "confirm", pending_id, "--yes")
        assert retry.code == exit_codes.INVALID
        assert len(emulator_orders(system)) == 1

        assert system.ctl("orders", "ack", str(entry["id"])).code == exit_codes.OK
        assert system.ctl("--json", "orders", "journal").json()["entries"] == []
        events = [e["event"] for e in system.ctl("--json", "audit", "--limit", "100").json()["entries"]]
        assert "journal.interrupted" in events and "journal.reconciled" in events


def test_audit_verify_detects_a_modified_and_a_deleted_entry(short_dir: Path) -> None:
    with trading_system(short_dir) as system:
        system.ctl("halt", "testing")
        system.ctl("resume")
        system.ctl("halt", "again")
        assert system.ctl("audit", "verify").code == exit_codes.OK
        path = short_dir / "state" / "etrade-mcp" / "audit.jsonl"
        lines = path.read_text().splitlines()
        assert len(lines) >= 3

        path.write_text("\n".join([lines[0], lines[1].replace("testing", "nothing to see"), *lines[2:]]) + "\n")
        modified = system.ctl("audit", "verify")
        assert modified.code == exit_codes.INTEGRITY
        assert "entry 2 was modified" in modified.stderr

        path.write_text("\n".join([lines[0], *lines[2:]]) + "\n")
        deleted = system.ctl("--json", "audit", "verify")
        assert deleted.code == exit_codes.INTEGRITY
        assert deleted.json()["ok"] is False and "missing" in deleted.json()["problem"]

        path.write_text("\n".join(lines) + "\n")
        assert system.ctl("audit", "verify").code == exit_codes.OK
