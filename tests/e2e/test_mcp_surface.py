"""End to end over real stdio: resources, prompts, completions, analytics with progress and live
updates of etrade-mcp, with the emulator, the daemon and etradectl as separate processes."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.shared.subscriptions import ResourceUpdated
from mcp.types import PromptReference, ResourceTemplateReference, ResourceUpdatedNotification

from cli import exit_codes
from tests.harness.processes import System, login_with_etradectl, running_system

pytestmark = pytest.mark.anyio

CONFIG = """\
# Hand-written settings; etrade-daemon must keep this comment.
log_level = "INFO"

[watchlists]
income = ["SCHD", "O"]  # dividend payers
"""
TECH = "market://watchlist/tech"


def config_file(home: Path) -> Path:
    path = home / "config" / "etrade-mcp" / "config.toml"  # XDG_CONFIG_HOME of the isolated children
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def proxy(system: System) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_proxy", "--socket", str(system.socket)], env=system.env
    )


def text(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in getattr(result, "content", []))


async def exercise_the_surface(mcp: Client, system: System) -> None:
    key = system.ctl("--json", "accounts").json()["accounts"][0]["account_id_key"]

    listed = [str(r.uri) for r in (await mcp.list_resources()).resources]
    assert [uri for uri in listed if uri.startswith("market://")] == [
        "market://watchlists",
        "market://watchlist/income",
        TECH,
    ]
    assert "etrade://session/status" in listed
    templates = {t.uri_template for t in (await mcp.list_resource_templates()).resource_templates}
    assert templates == {
        "account://{account_id_key}/summary",
        "portfolio://{account_id_key}/positions",
        "market://watchlist/{name}",
        "orders://{account_id_key}/recent",
    }
    for uri in (f"account://{key}/summary", f"portfolio://{key}/positions", "market://watchlists", TECH):
        contents = (await mcp.read_resource(uri)).contents
        assert contents[0].mime_type == "application/json"
        document = json.loads(contents[0].text)  # type: ignore[union-attr]
        assert document, uri
    tech = json.loads((await mcp.read_resource(TECH)).contents[0].text)  # type: ignore[union-attr]
    assert [q["symbol"] for q in tech["quotes"]] == ["AAPL", "MSFT"]

    prompts = {p.name for p in (await mcp.list_prompts()).prompts}
    assert len(prompts) == 6
    for name, arguments in {
        "portfolio_analysis": {"account_id_key": key},
        "market_summary": {"symbols": "watchlist:income"},
        "trade_idea_analysis": {"symbol": "AAPL", "strategy": "momentum"},
        "tax_loss_harvesting": {"account_id_key": key},
        "rebalancing": {"account_id_key": key, "target": "equal weight"},
        "order_review": {"pending_id": "abc123"},
    }.items():
        assert name in prompts
        result = await mcp.get_prompt(name, arguments)
        assert len(result.messages[0].content.text) > 200, name  # type: ignore[union-attr]

    names = await mcp.complete(
        ResourceTemplateReference(uri="market://watchlist/{name}"), {"name": "name", "value": ""}
    )
    assert names.completion.values == ["income", "tech"]
    keys = await mcp.complete(PromptReference(name="portfolio_analysis"), {"name": "account_id_key", "value": ""})
    assert key in keys.completion.values

    messages: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message)

    analysis = await mcp.call_tool("analyze_portfolio", {"account_id_key": key}, progress_callback=on_progress)
    assert not analysis.is_error, text(analysis)
    assert analysis.structured_content is not None and analysis.structured_content["position_count"] > 0
    assert messages and messages[-1] == "computed the analysis"


@pytest.mark.parametrize("mode", ["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
async def test_the_whole_surface_over_stdio_with_live_updates(short_dir: Path, mode: str) -> None:
    config = config_file(short_dir)
    config.write_text(CONFIG)
    with running_system(short_dir) as system:
        login_with_etradectl(system.env, system.socket)
        added = system.ctl("watchlist", "add", "tech", "aapl", "msft")
        assert added.code == exit_codes.OK, added.stderr
        updates = anyio.create_memory_object_stream[str](20)
        send, receive = updates

        async def on_message(message: Any) -> None:
            if isinstance(message, ResourceUpdatedNotification):
                await send.send(str(message.params.uri))

        with send, receive, anyio.fail_after(90):
            async with Client(proxy(system), mode=mode, message_handler=on_message) as mcp:
                await exercise_the_surface(mcp, system)
                system.daemon.wait_for_stderr(r"events: etrade-mcp/live subscribed")
                if mode == "legacy":
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", MCPDeprecationWarning)
                        await mcp.subscribe_resource(TECH)
                    assert system.ctl("watchlist", "add", "tech", "NVDA").code == exit_codes.OK
                    assert await receive.receive() == TECH
                else:
                    async with mcp.listen(resource_subscriptions=[TECH]) as stream:
                        assert system.ctl("watchlist", "add", "tech", "NVDA").code == exit_codes.OK
                        assert await anext(stream) == ResourceUpdated(TECH)
    written = config.read_text()
    assert "# Hand-written settings; etrade-daemon must keep this comment." in written
    assert "# dividend payers" in written
    assert tomllib.loads(written)["watchlists"] == {"income": ["SCHD", "O"], "tech": ["AAPL", "MSFT", "NVDA"]}


def test_the_proxy_exits_cleanly_on_stdin_eof_while_following_the_daemon(short_dir: Path) -> None:
    with running_system(short_dir) as system:
        child = subprocess.Popen(
            [sys.executable, "-m", "mcp_proxy", "--socket", str(system.socket)],
            env=system.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdin is not None and child.stdout is not None

        def request(message: dict[str, Any]) -> dict[str, Any] | None:
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write(json.dumps(message) + "\n")
            child.stdin.flush()
            return json.loads(child.stdout.readline()) if "id" in message else None

        initialize = {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "eof-test", "version": "1"},
        }
        reply = request({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize})
        assert reply is not None and reply["result"]["capabilities"]["tools"]["listChanged"] is True
        request({"jsonrpc": "2.0", "method": "notifications/initialized"})
        tools = request({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        assert tools is not None and len(tools["result"]["tools"]) >= 8
        system.daemon.wait_for_stderr(r"events: etrade-mcp/live subscribed")

        child.stdin.close()  # the client goes away
        assert child.wait(timeout=20) == 0
        rest = child.stdout.read()
        stderr = child.stderr.read() if child.stderr else ""
        child.stdout.close()
        if child.stderr:
            child.stderr.close()
        assert all(json.loads(line) for line in rest.splitlines() if line.strip())  # only protocol on stdout
        assert "Traceback" not in stderr, stderr


def test_etradectl_watchlist_commands(short_dir: Path) -> None:
    config = config_file(short_dir)
    config.write_text(CONFIG)
    with running_system(short_dir) as system:
        listed = system.ctl("watchlist", "list")
        assert listed.code == exit_codes.OK, listed.stderr
        assert listed.stdout.split("\n")[0].split() == ["NAME", "COUNT", "SYMBOLS"]
        assert "income" in listed.stdout and "SCHD O" in listed.stdout

        created = system.ctl("watchlist", "add", "tech", "aapl", "MSFT")
        assert (created.code, created.stdout.strip()) == (exit_codes.OK, "tech: created: AAPL MSFT")
        assert system.ctl("watchlist", "list", "tech").stdout.split() == ["AAPL", "MSFT"]
        document = system.ctl("--json", "watchlist", "list").json()
        assert [w["name"] for w in document["watchlists"]] == ["income", "tech"]
        assert document["config_path"] == str(config)

        removed = system.ctl("watchlist", "remove", "tech", "MSFT")
        assert removed.stdout.strip() == "tech: updated: AAPL"
        assert system.ctl("--json", "watchlist", "remove", "income").json()["change"] == "deleted"

        unknown = system.ctl("watchlist", "list", "nope")
        assert unknown.code == exit_codes.INVALID
        assert unknown.stderr.startswith("error: there is no watchlist 'nope'")
        assert "hint: see the configured watchlists" in unknown.stderr
        bad = system.ctl("watchlist", "add", "bad name!", "AAPL")
        assert bad.code == exit_codes.INVALID and "not a valid watchlist name" in bad.stderr
        bad_symbol = system.ctl("watchlist", "add", "tech", "$$$")
        assert bad_symbol.code == exit_codes.INVALID and "not a ticker symbol" in bad_symbol.stderr

    assert tomllib.loads(config.read_text())["watchlists"] == {"tech": ["AAPL"]}
    assert "# Hand-written settings" in config.read_text()
