"""`etradectl mcp config` in a temporary HOME: printed, written, merged safely, refused when malformed."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from cli import exit_codes
from tests.harness.processes import ROOT, child_env, login_with_etradectl, running_system

PROXY = Path(sys.executable).parent / "etrade-mcp"


def ctl(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env or child_env(home),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def desktop_config(home: Path) -> Path:
    # Linux: the community builds' XDG location (child_env sets XDG_CONFIG_HOME=home/config).
    return home / "config" / "Claude" / "claude_desktop_config.json"


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".bak-*"))


OTHER_SERVERS: dict[str, Any] = {
    "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/me"]},
    "github": {"command": "/usr/local/bin/github-mcp", "env": {"GITHUB_TOKEN": "ghp_secret"}},
}


def test_print_shows_the_absolute_proxy_and_the_socket_and_writes_nothing(tmp_path: Path) -> None:
    result = ctl(tmp_path, "mcp", "config")
    assert result.returncode == exit_codes.OK, result.stderr
    entry = json.loads(result.stdout)["mcpServers"]["etrade"]
    assert entry["command"] == str(PROXY) and Path(entry["command"]).is_absolute()
    assert entry["env"] == {"ETRADE_MCP_SOCKET": str(tmp_path / "run" / "etrade-mcp" / "broker.sock")}
    assert str(desktop_config(tmp_path)) in result.stderr
    assert "--write" in result.stderr
    assert not desktop_config(tmp_path).exists()


def test_write_creates_a_private_file_when_there_is_none(tmp_path: Path) -> None:
    result = ctl(tmp_path, "mcp", "config", "--write")
    assert result.returncode == exit_codes.OK, result.stderr
    path = desktop_config(tmp_path)
    assert json.loads(path.read_text())["mcpServers"]["etrade"]["command"] == str(PROXY)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert backups(path) == []


def test_write_merges_into_a_config_with_other_servers_and_keeps_a_backup(tmp_path: Path) -> None:
    path = desktop_config(tmp_path)
    path.parent.mkdir(parents=True)
    original = {"globalShortcut": "Ctrl+Space", "mcpServers": OTHER_SERVERS, "preferences": {"theme": "dark"}}
    original_bytes = (json.dumps(original, indent=4) + "\n").encode()
    path.write_bytes(original_bytes)
    path.chmod(0o644)

    result = ctl(tmp_path, "mcp", "config", "--client", "claude-desktop", "--write")
    assert result.returncode == exit_codes.OK, result.stderr
    merged = json.loads(path.read_text())
    assert merged["mcpServers"]["filesystem"] == OTHER_SERVERS["filesystem"]  # other servers untouched
    assert merged["mcpServers"]["github"] == OTHER_SERVERS["github"]
    assert merged["mcpServers"]["etrade"]["command"] == str(PROXY)
    assert list(merged["mcpServers"]) == ["filesystem", "github", "etrade"]
    assert merged["globalShortcut"] == "Ctrl+Space" and merged["preferences"] == {"theme": "dark"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # permissions kept
    [backup] = backups(path)
    assert backup.read_bytes() == original_bytes  # the backup is the file as it was
    assert str(backup) in result.stdout

    again = ctl(tmp_path, "mcp", "config", "--write")
    assert again.returncode == exit_codes.OK
    assert "nothing changed" in again.stdout
    assert backups(path) == [backup]  # idempotent: no second backup, no rewrite


def test_write_replaces_a_stale_entry_of_the_same_name(tmp_path: Path) -> None:
    path = tmp_path / ".cursor" / "mcp.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"mcpServers": {"etrade": {"command": "/old/venv/bin/etrade-mcp"}, **OTHER_SERVERS}}))
    result = ctl(tmp_path, "--json", "mcp", "config", "--client", "cursor", "--write")
    assert result.returncode == exit_codes.OK, result.stderr
    document = json.loads(result.stdout)
    assert document["changed"] is True and document["path"] == str(path)
    servers = json.loads(path.read_text())["mcpServers"]
    assert servers["etrade"]["command"] == str(PROXY)
    assert {k: servers[k] for k in OTHER_SERVERS} == OTHER_SERVERS
    assert (
        json.loads(Path(document["backup"]).read_text())["mcpServers"]["etrade"]["command"]
        == "/old/venv/bin/etrade-mcp"
    )


def test_claude_code_user_scope_keeps_its_other_state(tmp_path: Path) -> None:
    path = tmp_path / ".claude.json"
    state = {"numStartups": 42, "projects": {"/src/app": {"mcpServers": {"local": {"command": "x"}}}}}
    path.write_text(json.dumps(state))
    assert ctl(tmp_path, "mcp", "config", "--client", "claude-code", "--write").returncode == exit_codes.OK
    merged = json.loads(path.read_text())
    assert merged["numStartups"] == 42 and merged["projects"] == state["projects"]
    assert merged["mcpServers"]["etrade"]["type"] == "stdio"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"mcpServers": {"a": {"command": "x"},}}', "is not valid JSON (line 1, column"),
        ('["not", "an", "object"]', "holds a JSON list, not an object"),
        ('{"mcpServers": ["x"]}', 'has "mcpServers" as a JSON list'),
    ],
)
def test_a_malformed_config_is_refused_untouched(tmp_path: Path, content: str, problem: str) -> None:
    path = desktop_config(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    result = ctl(tmp_path, "mcp", "config", "--write")
    assert result.returncode == exit_codes.INVALID
    assert result.stderr.startswith(f"error: {path} {problem}")
    assert "nothing was changed" in result.stderr and "hint: fix the file by hand" in result.stderr
    assert path.read_text() == content
    assert backups(path) == []
    assert os.listdir(path.parent) == [path.name]  # no temporary file left behind either


@pytest.mark.anyio
async def test_the_printed_entry_starts_a_proxy_that_reaches_the_daemon(short_dir: Path) -> None:
    with running_system(short_dir) as system:
        login_with_etradectl(system.env, system.socket)
        printed = ctl(short_dir, "--json", "--socket", str(system.socket), "mcp", "config", env=system.env)
        entry = json.loads(printed.stdout)["entry"]
        # Exactly what Claude Desktop would run: the command, its args and env (no inherited socket).
        env = {k: v for k, v in system.env.items() if k != "ETRADE_MCP_SOCKET"} | entry["env"]
        params = StdioServerParameters(command=entry["command"], args=entry["args"], env=env)
        with anyio.fail_after(60):
            async with Client(params) as mcp:
                quote = await mcp.call_tool("get_stock_quote", {"symbol": "AAPL"})
        assert not quote.is_error
        assert quote.structured_content is not None and quote.structured_content["symbol"] == "AAPL"
