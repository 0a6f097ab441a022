"""The MCP Inspector's command-line mode against etrade-mcp, in both protocol eras (``make inspector``).

Starts the emulator and the daemon as real processes, logs in, adds a watchlist, then runs the
pinned Inspector (npm ``@modelcontextprotocol/inspector@2.12.0``) for tools/list, resources/list,
resources/templates/list, prompts/list, prompts/get, resources/read and two tools/call, each in the
2025-11-25 (legacy) and 2026-07-28 (modern) eras, and checks every answer.

Not part of ``make test`` on purpose: it needs the npm registry and, on a machine whose Node is
older than 22.19, downloads Node 22 through npx (about 20 s and ~50 MB on a cold cache); and it
checks a third-party client rather than our code, which the SDK-client tests cover in process and
over stdio. Inspector 2.x requires Node >= 22.19: a plain ``npx @modelcontextprotocol/inspector``
on Node 20 silently resolves 0.15.0, which speaks the legacy era only.

    python -m tests.e2e.inspector_check        # exit 0 when every check passed
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.harness.processes import login_with_etradectl, running_system

INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"
PROXY = [sys.executable, "-m", "mcp_proxy"]


def node_is_new_enough() -> bool:
    node = shutil.which("node")
    if node is None:
        return False
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    major, minor, *_ = (int(part) for part in [*version.lstrip("v").split("."), "0", "0"])
    return (major, minor) >= (22, 19)


def inspector_command(arguments: list[str]) -> list[str]:
    """npx running the pinned Inspector, on a Node npx fetches when the local one is too old."""
    if node_is_new_enough():
        return ["npx", "-y", INSPECTOR, *arguments]
    return ["npx", "-y", "-p", "node@22", "-p", INSPECTOR, "-c", "mcp-inspector " + shlex.join(arguments)]


def inspect(era: str, socket: Path, env: dict[str, str], *method: str) -> Any:
    arguments = ["--cli", "-q", "--format", "json", "--protocol-era", era, *PROXY, "--socket", str(socket), *method]
    result = subprocess.run(
        inspector_command(arguments), capture_output=True, text=True, env=env, timeout=300, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"inspector {' '.join(method)} exited {result.returncode}:\n{result.stderr[-2000:]}")
    document = json.loads(result.stdout)
    return document.get("result", document)


def check_era(era: str, socket: Path, env: dict[str, str]) -> list[str]:
    lines: list[str] = []
    initialize = inspect(era, socket, env, "--method", "initialize")
    expected = "2025-11-25" if era == "legacy" else "2026-07-28"
    assert initialize["protocolVersion"] == expected, initialize
    assert initialize["capabilities"]["tools"]["listChanged"] is True
    lines.append(f"initialize: {initialize['protocolVersion']} {json.dumps(initialize['capabilities'])}")

    tools = [t["name"] for t in inspect(era, socket, env, "--method", "tools/list")["tools"]]
    assert {"get_stock_quote", "analyze_portfolio", "list_watchlists"} <= set(tools), tools
    lines.append(f"tools/list: {tools}")
    resources = [r["uri"] for r in inspect(era, socket, env, "--method", "resources/list")["resources"]]
    assert [uri for uri in resources if uri.startswith("market://")] == [
        "market://watchlists",
        "market://watchlist/tech",
    ], resources
    lines.append(f"resources/list: {resources}")
    templates = inspect(era, socket, env, "--method", "resources/templates/list")["resourceTemplates"]
    assert {t["uriTemplate"] for t in templates} == {
        "account://{account_id_key}/summary",
        "portfolio://{account_id_key}/positions",
        "market://watchlist/{name}",
        "orders://{account_id_key}/recent",
    }, templates
    lines.append(f"resources/templates/list: {[t['uriTemplate'] for t in templates]}")
    prompts = [p["name"] for p in inspect(era, socket, env, "--method", "prompts/list")["prompts"]]
    assert len(prompts) == 6, prompts
    lines.append(f"prompts/list: {prompts}")

    quote = inspect(
        era, socket, env, "--method", "tools/call", "--tool-name", "get_stock_quote", "--tool-arg", "symbol=aapl"
    )
    assert quote.get("isError") is not True and quote["structuredContent"]["symbol"] == "AAPL", quote
    lines.append(f"tools/call get_stock_quote: AAPL last {quote['structuredContent']['last_trade']}")
    accounts = inspect(era, socket, env, "--method", "tools/call", "--tool-name", "list_accounts")
    key = accounts["structuredContent"]["accounts"][0]["account_id_key"]
    analysis = inspect(
        era,
        socket,
        env,
        "--method",
        "tools/call",
        "--tool-name",
        "analyze_portfolio",
        "--tool-args-json",
        json.dumps({"account_id_key": key}),
    )
    summary = analysis["structuredContent"]
    assert analysis.get("isError") is not True and summary["position_count"] > 0, analysis
    lines.append(
        f"tools/call analyze_portfolio: {summary['position_count']} positions, HHI {summary['herfindahl_index']}, "
        f"cash {summary['cash_percent']}%"
    )
    watchlist = inspect(era, socket, env, "--method", "resources/read", "--uri", "market://watchlist/tech")
    quotes = json.loads(watchlist["contents"][0]["text"])["quotes"]
    assert [q["symbol"] for q in quotes] == ["AAPL", "MSFT"], quotes
    lines.append(f"resources/read market://watchlist/tech: {[q['symbol'] for q in quotes]}")
    prompt = inspect(
        era,
        socket,
        env,
        "--method",
        "prompts/get",
        "--prompt-name",
        "market_summary",
        "--prompt-args",
        "symbols=watchlist:tech",
    )
    assert '["AAPL", "MSFT"]' in prompt["messages"][0]["content"]["text"]
    lines.append("prompts/get market_summary: ok")
    return lines


def main() -> int:
    if shutil.which("npx") is None:
        print("error: npx (Node.js) is not installed\n\nhint: install Node.js, then run this again", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="etm-insp-", dir="/tmp") as home_dir:
        home = Path(home_dir)
        with running_system(home) as system:
            login_with_etradectl(system.env, system.socket)
            assert system.ctl("watchlist", "add", "tech", "AAPL", "MSFT").code == 0
            env = {**os.environ, "MCP_INSPECTOR_SECRET_STORE": "memory"}  # no keychain prompt on headless boxes
            for era in ("legacy", "modern"):
                print(f"== Inspector {INSPECTOR.rsplit('@', 1)[1]}, {era} era")
                for line in check_era(era, system.socket, env):
                    print(f"  {line}")
    print("all Inspector checks passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
