"""End to end: emulator, daemon and etrade-mcp as separate processes; the proxy over real stdio."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.harness.processes import login_with_etradectl, running_system

pytestmark = pytest.mark.anyio


def proxy_params(system_env: dict[str, str], socket: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_proxy", "--socket", str(socket)], env=system_env
    )


def text_of(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


@pytest.mark.parametrize("mode", ["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
async def test_the_proxy_serves_quotes_and_a_portfolio_over_stdio(short_dir: Path, mode: str) -> None:
    with running_system(short_dir) as system:
        login_with_etradectl(system.env, system.socket)
        with anyio.fail_after(60):
            async with Client(proxy_params(system.env, system.socket), mode=mode) as mcp:
                names = {tool.name for tool in (await mcp.list_tools()).tools}
                assert {"get_stock_quote", "get_portfolio", "list_accounts"} <= names

                quote = await mcp.call_tool("get_stock_quote", {"symbol": "MSFT"})
                assert not quote.is_error, text_of(quote)
                assert quote.structured_content["symbol"] == "MSFT"

                accounts = await mcp.call_tool("list_accounts", {})
                key = accounts.structured_content["accounts"][0]["account_id_key"]
                portfolio = await mcp.call_tool("get_portfolio", {"account_id_key": key})
                assert not portfolio.is_error
                assert portfolio.structured_content["positions"]

                # The daemon stops mid-session: the proxy keeps running and says what to do.
                assert system.daemon.terminate() == 0
                down = await mcp.call_tool("get_stock_quote", {"symbol": "MSFT"})
                assert down.is_error
                assert "not running" in text_of(down)
                assert "etrade-daemon" in text_of(down)


async def test_daemon_exits_0_on_sigterm_and_removes_its_socket(short_dir: Path) -> None:
    with running_system(short_dir) as system:
        assert system.socket.exists()
        assert system.daemon.terminate() == 0
        assert not system.socket.exists()
        assert "server: stopped" in system.daemon.stderr_text


def test_a_second_sigterm_during_shutdown_still_exits_0_and_removes_the_socket(short_dir: Path) -> None:
    import signal
    import subprocess

    with running_system(short_dir) as system:
        login_with_etradectl(system.env, system.socket)
        # Keep a quote RPC in flight, so the daemon's graceful stop has something to wait for.
        system.admin("POST", "/faults", {"match": "quote", "hold": True, "count": 1})
        waiting = subprocess.Popen(
            [sys.executable, "-m", "cli", "--socket", str(system.socket), "quote", "AAPL"],
            env=system.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert system.admin("GET", "/holds?wait=30")  # the quote's answer is parked at the emulator
        mark = system.daemon.mark()
        system.daemon.popen.send_signal(signal.SIGTERM)
        system.daemon.wait_for_stderr(r"server: stopping", after=mark)
        system.daemon.popen.send_signal(signal.SIGTERM)  # impatient operator, or systemd's stop timeout
        system.admin("POST", "/holds/release", {})
        assert system.daemon.terminate() == 0
        assert not system.socket.exists()
        waiting.wait(30)
