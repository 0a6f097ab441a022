"""No code, token, verifier or consumer secret in any process's argv or environment, at any point
of a login and of two orders' preview, notification, confirmation and placement (single-user mode).

Real processes — emulator, daemon, etrade-mcp over stdio, etradectl (with a pseudo-terminal for
the confirmation) — and a real session bus whose notification server receives the code (the
operator enabled ``notify_codes``), while a watcher reads /proc/*/cmdline and /proc/*/environ.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from cli import exit_codes
from emulator.local_system import ROOT
from tests.argv_scanner import scanning
from tests.dbus_session import needs_dbus, notification_server, session_bus
from tests.processes import CtlResult, System, etradectl, login_with_etradectl, read_verifier, running_system

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

REGULAR_SESSION = "2026-03-10T11:00:00-04:00"


def on_a_terminal(system: System, answer: str, *args: str) -> CtlResult:
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


def text_of(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


@needs_dbus
async def test_no_secret_reaches_any_argv_or_environment_through_login_preview_notification_and_placement(
    short_dir: Path,
) -> None:
    with (
        scanning() as scanner,
        session_bus(short_dir) as bus,
        notification_server(bus) as desktop,
        running_system(
            short_dir,
            "--no-read-only",
            env_extra={
                "DBUS_SESSION_BUS_ADDRESS": bus,
                "ETRADE_DESKTOP_NOTIFICATIONS": "true",
                "ETRADE_NOTIFY_CODES": "true",
            },
            start=REGULAR_SESSION,
        ) as system,
    ):
        # The login: the verifier goes to etradectl's stdin.
        started = system.ctl("--json", "auth", "login", "--url-only")
        assert started.code == exit_codes.OK, started.stderr
        verifier = read_verifier(started.json()["authorize_url"])
        finished = etradectl(system.env, system.socket, "auth", "login", "--finish", input=verifier + "\n")
        assert finished.code == exit_codes.OK, finished.stderr
        assert "deprecated" not in finished.stderr

        accounts = system.ctl("--json", "accounts").json()["accounts"]
        key = next(a["account_id_key"] for a in accounts if a["account_mode"] == "MARGIN")
        proxy = StdioServerParameters(
            command=sys.executable, args=["-m", "mcp_proxy", "--socket", str(system.socket)], env=system.env
        )
        codes: list[str] = []
        with anyio.fail_after(120):
            async with Client(proxy) as mcp:
                order = {"account_id_key": key, "symbol": "KO", "order_action": "BUY", "price_type": "MARKET"}
                first = await mcp.call_tool("preview_order", {**order, "quantity": 1})
                second = await mcp.call_tool("preview_order", {**order, "quantity": 2})
                assert not first.is_error and not second.is_error, text_of(first) + text_of(second)
                assert first.structured_content is not None and second.structured_content is not None
                first_id = first.structured_content["pending_id"]
                second_id = second.structured_content["pending_id"]

                listing = system.ctl("--json", "orders", "pending")
                pending = {p["pending"]["pending_id"]: p["confirmation_code"] for p in listing.json()["pending"]}
                codes = [pending[first_id], pending[second_id]]

                # The human confirms the first at a terminal, and tells the model the second's code.
                confirmed = on_a_terminal(system, "yes", "orders", "confirm", first_id)
                assert confirmed.code == exit_codes.OK, confirmed.stderr
                placed = await mcp.call_tool(
                    "place_order_confirmed", {"pending_id": second_id, "confirmation_code": codes[1]}
                )
                assert not placed.is_error, text_of(placed)
        assert len(system.admin("GET", "/orders")["orders"]) == 2

        # The notifications reached the desktop, codes included (the operator turned notify_codes on).
        shown = " ".join(str(call) for call in desktop.wait_for(2, titled="approve"))
        assert all(code in shown for code in codes), shown

        # Control: the deprecated argv form is still accepted with a warning, and the watcher catches it.
        canary = system.ctl("auth", "login", "--verifier", "CANARY7X9Q")
        assert "--verifier is deprecated" in canary.stderr

        stored = json.loads((system.home / "state" / "etrade-mcp" / "secrets.json").read_text())
        secrets = [verifier, *codes, *(value for value in stored.values() if len(value) >= 8)]
        assert any(name.endswith("access_token_secret") for name in stored)

    # The watcher really saw the processes of the flow...
    assert scanner.seen_argv("mcp_proxy", "--socket"), sorted(scanner.argv)[:20]
    assert scanner.seen_argv("orders", "confirm", first_id)
    assert scanner.seen_argv("auth", "login", "--finish")
    assert scanner.seen_argv("daemon", "--environment", "emulator")
    assert scanner.leaks(["CANARY7X9Q"]) != []
    # ... and none of them carried a secret, in argv or environment.
    assert len(secrets) >= 5 and scanner.passes > 100
    assert scanner.leaks(secrets) == []


@needs_dbus
async def test_by_default_the_desktop_is_told_of_a_pending_order_without_its_code(short_dir: Path) -> None:
    with (
        session_bus(short_dir) as bus,
        notification_server(bus) as desktop,
        running_system(
            short_dir,
            "--no-read-only",
            # notify_codes is left at its default.
            env_extra={"DBUS_SESSION_BUS_ADDRESS": bus, "ETRADE_DESKTOP_NOTIFICATIONS": "true"},
            start=REGULAR_SESSION,
        ) as system,
    ):
        login_with_etradectl(system.env, system.socket)
        accounts = system.ctl("--json", "accounts").json()["accounts"]
        key = next(a["account_id_key"] for a in accounts if a["account_mode"] == "MARGIN")
        proxy = StdioServerParameters(
            command=sys.executable, args=["-m", "mcp_proxy", "--socket", str(system.socket)], env=system.env
        )
        with anyio.fail_after(60):
            async with Client(proxy) as mcp:
                preview = await mcp.call_tool(
                    "preview_order",
                    {
                        "account_id_key": key,
                        "symbol": "KO",
                        "order_action": "BUY",
                        "quantity": 3,
                        "price_type": "MARKET",
                    },
                )
        assert preview.structured_content is not None, text_of(preview)
        pending_id = preview.structured_content["pending_id"]
        listing = system.ctl("--json", "orders", "pending").json()["pending"]
        code = next(p["confirmation_code"] for p in listing if p["pending"]["pending_id"] == pending_id)
        [(app, _replaces, _icon, title, body, *_rest)] = desktop.wait_for(1, titled="approve")
        assert system.admin("GET", "/orders")["orders"] == []
    assert app == "etrade-mcp" and "approve" in title
    assert "BUY 3 KO" in body and f"etradectl orders confirm {pending_id}" in body
    assert code not in body and code.replace("-", "") not in body
