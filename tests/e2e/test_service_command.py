"""`etradectl service ...` as a subprocess, in a temporary HOME.

systemctl, journalctl and loginctl are stand-ins on PATH that record their arguments: the
service manager is an external system, and these tests must never enable a real service on
the machine that runs them. What is checked is what etradectl writes and which commands it runs.
"""

from __future__ import annotations

import json
import os
import plistlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli import exit_codes
from cli.service_manager import render_unit
from tests.harness.processes import ROOT, child_env

DAEMON = Path(sys.executable).parent / "etrade-daemon"
UNIT = "etrade-daemon.service"


@dataclass
class Machine:
    home: Path
    env: dict[str, str]
    log: Path

    @property
    def unit_path(self) -> Path:
        return self.home / "config" / "systemd" / "user" / UNIT

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    def commands(self) -> list[str]:
        """The service-manager commands run so far (and forget them)."""
        if not self.log.exists():
            return []
        lines = self.log.read_text().splitlines()
        self.log.unlink()
        return lines


def fake_tool(folder: Path, name: str, body: str) -> None:
    script = folder / name
    script.write_text(f'#!/bin/sh\necho "{name} $*" >> "$FAKE_LOG"\n{body}\n')
    script.chmod(0o755)


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    fake_tool(
        fake_bin, "systemctl", 'if [ -n "$FAKE_SYSTEMCTL_FAIL" ]; then echo "$FAKE_SYSTEMCTL_FAIL" >&2; exit 1; fi'
    )
    fake_tool(fake_bin, "loginctl", "echo no")
    fake_tool(fake_bin, "journalctl", 'echo "etrade-daemon[1]: server: listening"')
    log = tmp_path / "commands.log"
    env = child_env(tmp_path, PATH=f"{fake_bin}{os.pathsep}{os.environ['PATH']}", FAKE_LOG=str(log), USER="trader")
    yield Machine(tmp_path, env, log)


def test_install_dry_run_prints_the_unit_and_the_commands_and_changes_nothing(machine: Machine) -> None:
    result = machine.ctl("service", "install", "--dry-run")
    assert result.returncode == exit_codes.OK, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "dry run: nothing is written or run"
    assert lines[1] == f"write {machine.unit_path}:"
    assert f"    ExecStart={DAEMON}" in lines
    assert "    RuntimeDirectory=etrade-mcp" in lines
    assert lines[-3:] == [
        "run: systemctl --user daemon-reload",
        f"run: systemctl --user enable {UNIT}",
        f"run: systemctl --user restart {UNIT}",
    ]
    assert not machine.unit_path.exists()
    assert machine.commands() == []

    document = json.loads(machine.ctl("--json", "service", "install", "--dry-run").stdout)
    assert document["content"] == render_unit(DAEMON)
    assert document["path"] == str(machine.unit_path) and document["changed"] is True


def test_install_dry_run_for_macos_renders_a_valid_agent(machine: Machine) -> None:
    document = json.loads(machine.ctl("--json", "service", "install", "--dry-run", "--platform", "macos").stdout)
    assert document["path"] == str(machine.home / "Library/LaunchAgents/org.etrade-mcp.daemon.plist")
    plist = plistlib.loads(document["content"].encode())
    assert plist["ProgramArguments"] == [str(DAEMON)]
    assert plist["StandardErrorPath"] == str(machine.home / "Library/Logs/etrade-mcp/daemon.log")
    assert document["commands"][-1][:2] == ["launchctl", "bootstrap"]
    refused = machine.ctl("service", "install", "--platform", "macos")
    assert refused.returncode == exit_codes.USAGE


def test_install_writes_the_unit_once_and_is_idempotent(machine: Machine) -> None:
    first = machine.ctl("service", "install")
    assert first.returncode == exit_codes.OK, first.stderr
    assert machine.unit_path.read_text() == render_unit(DAEMON)
    assert machine.commands() == [
        "systemctl --user daemon-reload",
        f"systemctl --user enable {UNIT}",
        f"systemctl --user restart {UNIT}",
        "loginctl show-user trader --property=Linger --value",
    ]
    assert f"wrote {machine.unit_path}" in first.stdout
    assert "loginctl enable-linger trader" in first.stdout  # lingering explained: Linger=no here
    before = machine.unit_path.stat()

    again = machine.ctl("service", "install")
    assert again.returncode == exit_codes.OK, again.stderr
    assert f"{machine.unit_path} is up to date" in again.stdout
    after = machine.unit_path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not rewritten
    assert machine.commands()[:2] == [f"systemctl --user enable {UNIT}", f"systemctl --user start {UNIT}"]

    # A unit edited by hand (or from an older version) is replaced and the daemon restarted.
    machine.unit_path.write_text(machine.unit_path.read_text().replace("RestartSec=5", "RestartSec=1"))
    machine.ctl("service", "install")
    assert machine.unit_path.read_text() == render_unit(DAEMON)
    assert f"systemctl --user restart {UNIT}" in machine.commands()


def test_a_custom_socket_goes_into_the_unit(machine: Machine) -> None:
    socket = machine.home / "sock" / "broker.sock"
    assert machine.ctl("--socket", str(socket), "service", "install").returncode == exit_codes.OK
    assert f"Environment=ETRADE_MCP_SOCKET={socket}" in machine.unit_path.read_text().splitlines()


def test_uninstall_stops_disables_and_removes_and_is_idempotent(machine: Machine) -> None:
    machine.ctl("service", "install")
    machine.commands()
    removed = machine.ctl("service", "uninstall")
    assert removed.returncode == exit_codes.OK, removed.stderr
    assert not machine.unit_path.exists()
    assert machine.commands() == [f"systemctl --user disable --now {UNIT}", "systemctl --user daemon-reload"]
    again = machine.ctl("service", "uninstall")
    assert again.returncode == exit_codes.OK
    assert "not installed" in again.stdout and machine.commands() == []


def test_start_stop_restart_status_and_logs_use_the_service_manager(machine: Machine) -> None:
    not_installed = machine.ctl("service", "start")
    assert not_installed.returncode == exit_codes.INVALID
    assert "hint: install the service with `etradectl service install`" in not_installed.stderr
    machine.ctl("service", "install")
    machine.commands()
    for action in ("start", "stop", "restart"):
        assert machine.ctl("service", action).returncode == exit_codes.OK
        assert machine.commands() == [f"systemctl --user {action} {UNIT}"]
    logs = machine.ctl("service", "logs", "-n", "20")
    assert logs.returncode == exit_codes.OK and "server: listening" in logs.stdout
    assert machine.commands() == [f"journalctl --user --unit {UNIT} --lines 20 --no-pager"]
    status = machine.ctl("--json", "service", "status")
    assert status.returncode == exit_codes.DAEMON_UNAVAILABLE  # the stand-in starts no daemon
    document = json.loads(status.stdout)
    assert document["installed"] == "yes" and document["answering"] is False
    assert "not running" in document["daemon"]


def test_without_a_user_manager_install_explains_what_to_do(machine: Machine) -> None:
    machine.env["FAKE_SYSTEMCTL_FAIL"] = "Failed to connect to bus: No medium found"
    result = machine.ctl("service", "install")
    assert result.returncode == exit_codes.DAEMON_UNAVAILABLE
    assert "error: no systemd user manager is reachable" in result.stderr
    assert "etrade-daemon` in the foreground" in result.stderr
