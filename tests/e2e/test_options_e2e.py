"""End to end: symbol lookup and options through etradectl and over the proxy's real stdio, with
the emulator, the daemon and etrade-mcp as separate processes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from cli import exit_codes
from tests.harness.processes import System, login_with_etradectl, running_system

pytestmark = pytest.mark.anyio


def text_of(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


def check_etradectl(system: System) -> str:
    """Drive lookup and options with etradectl; return a contract symbol from a chain."""
    lookup = system.ctl("lookup", "coca", "cola")
    assert lookup.code == exit_codes.OK, lookup.stderr
    assert "KO" in lookup.stdout and "COCA COLA CO COM" in lookup.stdout
    nothing = system.ctl("lookup", "zzzqqq")
    assert nothing.code == exit_codes.INVALID and "no security's name matches" in nothing.stderr

    expirations = system.ctl("--json", "options", "expirations", "AAPL", "--type", "monthly")
    assert expirations.code == exit_codes.OK, expirations.stderr
    dates = [e["date"] for e in expirations.json()["expirations"]]
    assert dates and {e["expiry_type"] for e in expirations.json()["expirations"]} == {"MONTHLY"}
    table = system.ctl("options", "expirations", "AAPL")
    assert "EXPIRATION" in table.stdout and "WEEKLY" in table.stdout

    chain = system.ctl("options", "chain", "AAPL", "--expiration", dates[0], "--strikes", "4")
    assert chain.code == exit_codes.OK, chain.stderr
    assert f"AAPL options expiring {dates[0]}" in chain.stdout
    assert "C DELTA" in chain.stdout and "P IV%" in chain.stdout
    assert len(chain.stdout.strip().splitlines()) == 2 + 4  # heading, header row, four strikes
    calls = system.ctl("--json", "options", "chain", "AAPL", "--strikes", "2", "--calls")
    assert calls.code == exit_codes.OK, calls.stderr
    rows = calls.json()["rows"]
    assert len(rows) == 2 and all(row.get("put") is None and row["call"] for row in rows)

    refused = system.ctl("options", "chain", "VFIAX")
    assert refused.code == exit_codes.INVALID
    assert refused.stderr.startswith("error: VFIAX has no listed options")
    assert "\nhint: options exist for stocks and ETFs" in refused.stderr
    bad_date = system.ctl("options", "chain", "AAPL", "--expiration", "June")
    assert bad_date.code != exit_codes.OK and "YYYY-MM-DD" in bad_date.stderr

    contract = str(rows[0]["call"]["symbol"])
    quote = system.ctl("options", "quote", contract)
    assert quote.code == exit_codes.OK, quote.stderr
    assert "delta / gamma" in quote.stdout and rows[0]["call"]["osi_key"] in quote.stdout
    return contract


async def test_lookup_and_options_through_etradectl_and_stdio(short_dir: Path) -> None:
    with running_system(short_dir) as system:
        login_with_etradectl(system.env, system.socket)
        contract = check_etradectl(system)
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "mcp_proxy", "--socket", str(system.socket)], env=system.env
        )
        with anyio.fail_after(60):
            async with Client(params) as mcp:
                names = {tool.name for tool in (await mcp.list_tools()).tools}
                assert {"lookup_symbol", "get_option_expirations", "get_option_chain", "get_option_quote"} <= names
                found = await mcp.call_tool("lookup_symbol", {"company": "microsoft"})
                assert found.structured_content["products"][0]["symbol"] == "MSFT"
                expirations = await mcp.call_tool("get_option_expirations", {"symbol": "SPY"})
                assert not expirations.is_error and expirations.structured_content["expirations"]
                chain = await mcp.call_tool("get_option_chain", {"symbol": "SPY", "strike_count": 20})
                assert not chain.is_error, text_of(chain)
                assert len(chain.structured_content["rows"]) == 20
                quote = await mcp.call_tool("get_option_quote", {"option_symbol": contract})
                assert not quote.is_error and quote.structured_content["underlying"] == "AAPL"
                too_many = await mcp.call_tool("get_option_chain", {"symbol": "SPY", "strike_count": 21})
                assert too_many.is_error
                unlisted = await mcp.call_tool("get_option_quote", {"option_symbol": "SPY:2031:1:17:PUT:500"})
                assert unlisted.is_error and "get_option_chain" in text_of(unlisted)
