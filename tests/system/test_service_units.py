"""The systemd unit and the launchd plist: rendered for this installation and validated."""

from __future__ import annotations

import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli.service_manager import LAUNCHD_LABEL, fill_template, render_plist, render_unit, systemd_quote

DAEMON = Path(sys.executable).parent / "etrade-daemon"


def unit_settings(text: str) -> dict[str, list[str]]:
    """Key → values of a unit file (sections flattened; comments dropped)."""
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_the_unit_runs_the_installed_daemon_in_the_foreground_with_restarts_and_a_private_runtime_dir() -> None:
    settings = unit_settings(render_unit(DAEMON))
    assert settings["ExecStart"] == [str(DAEMON)]
    assert settings["Type"] == ["notify"]  # the daemon never forks; it reports readiness
    assert settings["Restart"] == ["on-failure"]
    assert settings["RestartPreventExitStatus"] == ["78"]
    assert settings["StartLimitIntervalSec"] == ["300"] and settings["StartLimitBurst"] == ["5"]
    assert settings["RuntimeDirectory"] == ["etrade-mcp"]  # = the default socket's directory
    assert settings["RuntimeDirectoryMode"] == ["0700"]
    assert settings["StandardError"] == ["journal"]
    assert settings["NoNewPrivileges"] == ["yes"] and settings["UMask"] == ["0077"]
    assert settings["WantedBy"] == ["default.target"]
    assert "Environment" in settings and not any(v.startswith("ETRADE_MCP_SOCKET") for v in settings["Environment"])


def test_paths_and_values_are_quoted_for_systemd() -> None:
    assert systemd_quote("/opt/etrade/bin/etrade-daemon") == "/opt/etrade/bin/etrade-daemon"
    assert systemd_quote("/Users/me/My Apps/etrade-daemon") == '"/Users/me/My Apps/etrade-daemon"'
    assert systemd_quote("/odd/100%/$HOME") == "/odd/100%%/$$HOME"
    assert systemd_quote("A=/x/$y", command_line=False) == "A=/x/$y"  # Environment= does not expand $
    unit = render_unit(DAEMON, environment={"ETRADE_MCP_SOCKET": "/tmp/my socket/broker.sock"})
    assert 'Environment="ETRADE_MCP_SOCKET=/tmp/my socket/broker.sock"' in unit.splitlines()


def test_a_template_and_its_values_must_match() -> None:
    assert fill_template("a=@A@ b=@B@", {"A": "1", "B": "2"}) == "a=1 b=2"
    with pytest.raises(ValueError, match="do not match"):
        fill_template("a=@A@", {"A": "1", "B": "2"})


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
@pytest.mark.parametrize("folder", ["bin", "My Apps 100%"])
def test_systemd_analyze_verifies_the_rendered_unit(tmp_path: Path, folder: str) -> None:
    # verify also checks that ExecStart's program exists; give it the real daemon, under an odd path too.
    (tmp_path / folder).mkdir()
    daemon = tmp_path / folder / "etrade-daemon"
    daemon.symlink_to(DAEMON)
    unit = tmp_path / "etrade-daemon.service"
    unit.write_text(render_unit(daemon, environment={"ETRADE_MCP_SOCKET": str(tmp_path / "s p/broker.sock")}))
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    result = subprocess.run(
        ["systemd-analyze", "--user", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(runtime)},
    )
    assert result.returncode == 0, result.stderr
    # Unknown or misspelt settings are only warnings; there must be none.
    assert "etrade-daemon.service" not in result.stderr, result.stderr


def test_the_plist_parses_and_has_what_launchd_needs() -> None:
    home = Path("/Users/me & you")
    log = home / "Library/Logs/etrade-mcp/daemon.log"
    daemon = Path("/Users/me & you/<venv>/bin/etrade-daemon")
    document = plistlib.loads(render_plist(daemon, log, environment={"ETRADE_MCP_SOCKET": "/tmp/x.sock"}))
    assert document["Label"] == LAUNCHD_LABEL
    assert document["ProgramArguments"] == [str(daemon)]  # the daemon itself: it never forks
    assert document["RunAtLoad"] is True
    assert document["KeepAlive"] == {"SuccessfulExit": False}  # restart after a crash, not after SIGTERM
    assert document["StandardOutPath"] == document["StandardErrorPath"] == str(log)
    assert document["EnvironmentVariables"] == {"PYTHONUNBUFFERED": "1", "ETRADE_MCP_SOCKET": "/tmp/x.sock"}
    assert document["Umask"] == 0o077
    assert isinstance(document["ThrottleInterval"], int)
