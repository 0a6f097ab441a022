"""`etradectl doctor` on healthy and broken setups: real daemon, emulator and etradectl processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cli import exit_codes
from daemon.secret_store import ACCESS_TOKEN, ACCESS_TOKEN_ISSUED_AT, ACCESS_TOKEN_SECRET, FileSecretStore
from emulator.local_system import ROOT, Proc, child_env
from tests.processes import etradectl, login_with_etradectl, running_system
from tests.support import admin, wait_until

pytestmark = pytest.mark.e2e


def doctor(env: dict[str, str], socket: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    """Run `etradectl doctor` twice: as JSON (the checks by name) and for humans (the text)."""
    as_json = etradectl(env, socket, "--json", "doctor", *args)
    document = json.loads(as_json.stdout)
    text = etradectl(env, socket, "doctor", *args)
    assert text.code == as_json.code == document["exit_status"]
    return as_json.code, {c["name"]: c for c in document["checks"]}, text.stdout


def test_a_healthy_setup_passes_every_check(short_dir: Path) -> None:
    with running_system(short_dir) as system:
        login_with_etradectl(system.env, system.socket)
        assert system.ctl("mcp", "config", "--write").code == exit_codes.OK
        code, checks, text = doctor(system.env, system.socket)
    assert code == exit_codes.OK, text
    failing = {name: c for name, c in checks.items() if c["status"] not in ("ok", "skip")}
    assert failing == {}, failing
    assert list(checks) == [
        "config",
        "daemon",
        "versions",
        "socket",
        "keyring",
        "credentials",
        "clock",
        "session",
        "mcp client",
        "mode",
        "sudo",
    ]
    # Claude Desktop has no shell: single-user mode is enough, and says what it protects against.
    assert checks["mode"]["status"] == "ok" and checks["mode"]["summary"].startswith("single-user")
    assert checks["sudo"]["status"] == "skip"
    assert "E*TRADE accepted a request" in checks["session"]["summary"]
    assert "s behind" in checks["clock"]["summary"] or "s ahead of" in checks["clock"]["summary"]
    assert "claude-desktop" in checks["mcp client"]["summary"]
    # The daemon runs the emulator by its flag; the file and variables alone would say sandbox.
    assert "it runs environment emulator" in checks["daemon"]["summary"]
    assert "it says environment sandbox" in checks["config"]["summary"]


def test_daemon_down(short_dir: Path) -> None:
    env = child_env(short_dir)
    code, checks, text = doctor(env, short_dir / "run" / "etrade-mcp" / "broker.sock", "--offline")
    assert code == exit_codes.DAEMON_UNAVAILABLE
    assert checks["daemon"]["status"] == "fail"
    assert "not running" in checks["daemon"]["summary"]
    assert "etradectl service install" in checks["daemon"]["fix"]
    assert {checks[n]["status"] for n in ("credentials", "session")} == {"skip"}
    assert "FAIL  daemon" in text and "fix: start it" in text


def test_wrong_permissions_on_the_socket_directory_the_socket_and_the_secret_file(short_dir: Path) -> None:
    with running_system(short_dir) as system:
        login_with_etradectl(system.env, system.socket)
        directory = system.socket.parent
        secrets = short_dir / "state" / "etrade-mcp" / "secrets.json"
        directory.chmod(0o755)
        system.socket.chmod(0o666)
        secrets.chmod(0o644)
        code, checks, text = doctor(system.env, system.socket, "--offline")
    assert code == exit_codes.DAEMON_UNAVAILABLE  # the first failure: the socket
    socket = checks["socket"]
    assert socket["status"] == "fail"
    assert "mode 0755: other users can enter it" in socket["summary"]
    assert "mode 0666: other users can connect" in socket["summary"]
    assert f"chmod 700 {directory}" in socket["fix"] and f"chmod 600 {system.socket}" in socket["fix"]
    assert checks["keyring"]["status"] == "fail"
    assert checks["keyring"]["fix"] == f"chmod 600 {secrets}"
    assert f"fix: chmod 700 {directory}" in text


def test_no_credentials(short_dir: Path) -> None:
    env = child_env(short_dir, ETRADE_SECRET_STORE="file")
    socket = short_dir / "sock" / "broker.sock"
    daemon = Proc([sys.executable, "-m", "daemon", "--environment", "sandbox", "--socket", str(socket)], env)
    try:
        daemon.wait_for_stderr("server: listening on")
        code, checks, text = doctor(env, socket, "--offline")  # --offline: never contact the real E*TRADE
    finally:
        daemon.kill()
    assert code == exit_codes.SESSION
    assert checks["daemon"]["status"] == "ok"
    assert checks["credentials"]["status"] == "fail"
    assert "no E*TRADE consumer key and secret" in checks["credentials"]["summary"]
    assert checks["credentials"]["fix"] == "run `etradectl auth setup`"
    assert "fix: run `etradectl auth setup`" in text


def test_stale_session_saved_yesterday(short_dir: Path) -> None:
    # The daemon restarts on a new day with yesterday's token in its store.
    store = FileSecretStore(short_dir / "state" / "etrade-mcp" / "secrets.json", "emulator")
    store.set(ACCESS_TOKEN, "yesterdays-token")
    store.set(ACCESS_TOKEN_SECRET, "yesterdays-secret")
    store.set(ACCESS_TOKEN_ISSUED_AT, str(int((time.time() - 2 * 86400) * 1000)))
    with running_system(short_dir) as system:
        code, checks, text = doctor(system.env, system.socket, "--offline")
    assert code == exit_codes.SESSION
    assert checks["session"]["status"] == "fail"
    assert checks["session"]["summary"].startswith("EXPIRED: ")
    assert checks["session"]["fix"] == "run `etradectl auth login`"
    assert "yesterdays-token" not in text and "yesterdays-secret" not in text


def test_a_session_e_trade_no_longer_accepts_is_caught_by_the_live_test(short_dir: Path) -> None:
    # The daemon must not notice the emulator's clock jump by itself (it reads that clock every
    # second by default), or it expires the session locally and the live test is never reached.
    with running_system(short_dir, env_extra={"ETRADE_EMULATOR_CLOCK_POLL": "3600"}) as system:
        login_with_etradectl(system.env, system.socket)
        # Nor may the fill watcher's first look after the login meet E*TRADE's refusal first: let it finish.
        accounts = admin(system.emulator_url, "accounts")["accounts"]  # asked of the emulator, not the daemon's cache
        looked = sum(1 for a in accounts if a["accountStatus"] != "CLOSED")
        wait_until(
            lambda: admin(system.emulator_url, "stats")["requests_by_route"].get("orders_list", 0) >= looked,
            "the fill watcher's first look at each account",
        )
        admin(system.emulator_url, "clock", {"advance_seconds": 86400})  # midnight ET passed at E*TRADE
        code, checks, _ = doctor(system.env, system.socket)
    assert code == exit_codes.SESSION
    assert checks["session"]["status"] == "fail"
    assert "E*TRADE refused the session" in checks["session"]["summary"]
    assert "etradectl auth login" in checks["session"]["fix"]


def test_a_skewed_clock_is_reported_before_the_session_it_breaks(short_dir: Path) -> None:
    with running_system(short_dir) as system:
        login_with_etradectl(system.env, system.socket)
        admin(system.emulator_url, "faults", {"clock_skew_seconds": 900})
        code, checks, text = doctor(system.env, system.socket)
    assert code == exit_codes.UPSTREAM
    assert text.index("FAIL  clock") < text.index("session")  # the cause before its effect
    clock = checks["clock"]
    assert clock["status"] == "fail"
    assert "behind" in clock["summary"] and "more than 5 minutes" in clock["summary"]
    seconds = int(clock["summary"].split("this machine is ")[1].split(" s ")[0])
    assert 895 <= seconds <= 905
    assert "timedatectl set-ntp true" in clock["fix"]


def test_an_mcp_client_pointing_at_a_missing_proxy(short_dir: Path) -> None:
    config = short_dir / ".cursor" / "mcp.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"mcpServers": {"etrade": {"command": "/gone/venv/bin/etrade-mcp"}}}))
    env = child_env(short_dir)
    _, checks, _ = doctor(env, short_dir / "none.sock", "--offline")
    entry = checks["mcp client"]
    assert entry["status"] == "fail"
    assert "/gone/venv/bin/etrade-mcp" in entry["summary"]
    assert entry["fix"] == "rewrite the entry: `etradectl mcp config --client cursor --write`"


@pytest.mark.parametrize("client", ["claude-code", "cursor"])
def test_a_shell_capable_client_in_single_user_mode_is_warned_with_the_way_out(short_dir: Path, client: str) -> None:
    where = short_dir / (".claude.json" if client == "claude-code" else ".cursor/mcp.json")
    where.parent.mkdir(parents=True, exist_ok=True)
    proxy = Path(sys.executable).parent / "etrade-mcp"
    where.write_text(json.dumps({"mcpServers": {"etrade": {"command": str(proxy)}}}))
    env = child_env(short_dir)
    _, checks, text = doctor(env, short_dir / "none.sock", "--offline")
    entry = checks["mode"]
    assert entry["status"] == "warn"
    assert entry["summary"].startswith(f"single-user, and {client} can run commands as you")
    assert "sudo etradectl service install --system" in entry["fix"]
    assert "warn  mode" in text
    assert checks["sudo"]["status"] == "skip"


def test_an_invalid_config_file_comes_first(short_dir: Path) -> None:
    config = short_dir / "config" / "etrade-mcp" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('read_only = "maybe"\n')
    result = subprocess.run(
        [sys.executable, "-m", "cli", "--socket", str(short_dir / "none.sock"), "doctor", "--offline"],
        env=child_env(short_dir),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == exit_codes.INVALID
    assert f"FAIL  config       {config}: read_only: expected true or false" in result.stdout
    assert os.path.exists(config)
