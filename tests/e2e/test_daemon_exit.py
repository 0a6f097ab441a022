"""The daemon's exit statuses that the service units rely on (real processes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from daemon.main import EXIT_CANNOT_START
from tests.harness.processes import ROOT, child_env, running_system


def daemon(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_a_second_daemon_on_the_same_socket_exits_78_which_systemd_does_not_retry(short_dir: Path) -> None:
    with running_system(short_dir) as system:
        second = daemon(
            system.env,
            "--environment",
            "emulator",
            "--emulator-url",
            system.emulator_url,
            "--socket",
            str(system.socket),
        )
        assert system.ctl("--json", "status").json()["pid"] == system.daemon.popen.pid  # the first one still serves
    assert second.returncode == EXIT_CANNOT_START == 78
    assert "another etrade-daemon is already running" in second.stderr


def test_a_bad_setting_exits_78_naming_it(short_dir: Path) -> None:
    result = daemon(child_env(short_dir, ETRADE_READ_ONLY="perhaps"), "--socket", str(short_dir / "s.sock"))
    assert result.returncode == EXIT_CANNOT_START
    assert "environment variable ETRADE_READ_ONLY: expected true or false" in result.stderr
