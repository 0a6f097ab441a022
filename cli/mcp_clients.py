"""MCP client configuration: where Claude Desktop, Claude Code and Cursor keep their server list,
what our entry looks like, and a careful merge into an existing file.

Every client reads a JSON object whose ``mcpServers`` maps a server name to
``{"command", "args", "env"}``. Our entry names this installation's ``etrade-mcp`` by absolute
path (clients start servers without your shell's PATH) and pins the daemon's socket in ``env``.

Merging never loses anything: the file is parsed first and refused, untouched, if it is not a
JSON object (or its ``mcpServers`` is not an object); a timestamped backup is written before the
first change; only our entry is added or replaced; the new file replaces the old one atomically,
keeping its permissions; and if the client rewrote the file while we merged, we merge again.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from broker_client import paths
from broker_client.errors import ErrorCode, InvalidRequest

ClientName = Literal["claude-desktop", "claude-code", "cursor"]
CLIENTS: tuple[ClientName, ...] = ("claude-desktop", "claude-code", "cursor")
DEFAULT_SERVER_NAME = "etrade"


@dataclass(frozen=True)
class ClientInfo:
    name: ClientName
    title: str
    config_path: Path
    logs: str
    restart: str


def _home(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("HOME") or Path.home())


def client_info(
    name: ClientName, *, environ: Mapping[str, str] | None = None, platform: str | None = None
) -> ClientInfo:
    """Where ``name`` keeps its configuration on this platform, and where its logs are."""
    env = os.environ if environ is None else environ
    home = _home(env)
    system = platform or sys.platform
    if name == "claude-desktop":
        if system == "darwin":
            base, logs = home / "Library" / "Application Support" / "Claude", f"{home}/Library/Logs/Claude/"
        else:
            # No official Linux build; the community builds follow XDG.
            xdg = env.get("XDG_CONFIG_HOME")
            base = (Path(xdg) if xdg else home / ".config") / "Claude"
            logs = f"{base}/logs/"
        return ClientInfo(
            name,
            "Claude Desktop",
            base / "claude_desktop_config.json",
            f"{logs}mcp-server-<name>.log (the server's stderr) and mcp.log",
            "quit Claude Desktop completely (closing the window is not enough) and open it again",
        )
    if name == "claude-code":
        return ClientInfo(
            name,
            "Claude Code",
            home / ".claude.json",  # user scope: the top-level mcpServers
            "run `claude --debug`, or `/mcp` inside Claude Code for each server's state",
            "start a new Claude Code session; `/mcp` lists the servers",
        )
    return ClientInfo(
        name,
        "Cursor",
        home / ".cursor" / "mcp.json",  # global; a project may also have .cursor/mcp.json
        "Cursor: View > Output, then choose 'MCP Logs'",
        "reload Cursor (or toggle the server in Settings > MCP)",
    )


def server_entry(proxy: Path, socket: Path, client: ClientName) -> dict[str, Any]:
    """Our ``mcpServers`` entry: the absolute ``etrade-mcp`` and the socket it must use."""
    entry: dict[str, Any] = {}
    if client == "claude-code":
        entry["type"] = "stdio"
    entry.update(command=str(proxy), args=[], env={paths.SOCKET_ENV: str(socket)})
    return entry


class ClientConfigInvalid(InvalidRequest):
    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(ErrorCode.CLIENT_CONFIG_INVALID, f"{path} {problem}; nothing was changed")


def read_config(path: Path) -> tuple[dict[str, Any], bytes | None]:
    """The parsed file and its raw bytes (None if it does not exist); refuses what we cannot merge."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        raise ClientConfigInvalid(path, f"cannot be read ({exc.strerror})") from None
    if not raw.strip():
        return {}, raw
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ClientConfigInvalid(path, "is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ClientConfigInvalid(
            path, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(document, dict):
        raise ClientConfigInvalid(path, f"holds a JSON {type(document).__name__}, not an object")
    servers = document.get("mcpServers")
    if servers is not None and not isinstance(servers, dict):
        raise ClientConfigInvalid(path, f'has "mcpServers" as a JSON {type(servers).__name__}, not an object')
    return document, raw


@dataclass(frozen=True)
class MergeResult:
    path: Path
    changed: bool
    created: bool
    backup: Path | None
    replaced: dict[str, Any] | None  # the entry of the same name that was there before


def _backup_path(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.bak-{stamp}")
    counter = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.bak-{stamp}-{counter}")
        counter += 1
    return candidate


def _write(path: Path, document: dict[str, Any], mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(document, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def merge_server(path: Path, name: str, entry: dict[str, Any], *, attempts: int = 3) -> MergeResult:
    """Add or replace ``mcpServers[name]`` in the JSON file at ``path``, keeping everything else."""
    for _ in range(attempts):
        document, raw = read_config(path)
        servers = document.setdefault("mcpServers", {})
        previous = servers.get(name)
        if previous == entry:
            return MergeResult(path, changed=False, created=False, backup=None, replaced=None)
        servers[name] = entry
        if raw is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write(path, document, 0o600)  # client configs can hold other servers' tokens
            return MergeResult(path, changed=True, created=True, backup=None, replaced=None)
        mode = path.stat().st_mode & 0o777
        backup = _backup_path(path)
        shutil.copy2(path, backup)
        if path.read_bytes() != raw:  # the client rewrote it meanwhile: merge into its new version
            backup.unlink()
            continue
        _write(path, document, mode)
        return MergeResult(path, changed=True, created=False, backup=backup, replaced=previous)
    raise ClientConfigInvalid(path, f"kept changing while etradectl merged into it ({attempts} tries)")


@dataclass(frozen=True)
class Configured:
    """An ``etrade-mcp`` entry found in a client's configuration."""

    client: ClientName
    path: Path
    server_name: str
    command: str
    socket: str | None


def find_configured(*, environ: Mapping[str, str] | None = None) -> tuple[list[Configured], list[str]]:
    """Every etrade-mcp entry in the known clients' files, and the problems met reading them."""
    found: list[Configured] = []
    problems: list[str] = []
    for name in CLIENTS:
        info = client_info(name, environ=environ)
        try:
            document, raw = read_config(info.config_path)
        except InvalidRequest as exc:
            problems.append(exc.message)
            continue
        if raw is None:
            continue
        for server_name, entry in (document.get("mcpServers") or {}).items():
            if not isinstance(entry, dict):
                continue
            command = str(entry.get("command") or "")
            args = [str(a) for a in entry.get("args") or [] if isinstance(a, str)]
            if Path(command).name != "etrade-mcp" and "mcp_proxy" not in args:
                continue
            env = entry.get("env") if isinstance(entry.get("env"), dict) else {}
            socket = env.get(paths.SOCKET_ENV) if env else None
            if "--socket" in args and args.index("--socket") + 1 < len(args):
                socket = args[args.index("--socket") + 1]
            found.append(Configured(name, info.config_path, server_name, command, socket))
    return found, problems
