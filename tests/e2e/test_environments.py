"""The daemon's environments as a user starts them: embedded emulator, and a keyring-less machine."""

from __future__ import annotations

import sys
from pathlib import Path

from cli import exit_codes
from tests.harness.processes import Proc, child_env, etradectl, login_with_etradectl


def test_environment_emulator_starts_an_embedded_emulator_and_needs_no_keyring(short_dir: Path) -> None:
    # The fail backend is what a headless machine without D-Bus has: the emulator must not need it.
    env = child_env(short_dir, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    socket = short_dir / "s" / "broker.sock"
    daemon = Proc([sys.executable, "-m", "daemon", "--environment", "emulator", "--socket", str(socket)], env)
    try:
        daemon.wait_for_stderr(r"server: listening on")
        assert "embedded E*TRADE emulator listening on http://127.0.0.1:" in daemon.stderr_text
        login_with_etradectl(env, socket)
        quote = etradectl(env, socket, "--json", "quote", "AAPL")
        assert quote.code == exit_codes.OK, quote.stderr
        assert quote.json()["quotes"][0]["symbol"] == "AAPL"
        assert daemon.terminate() == 0
    finally:
        daemon.kill()


def test_production_without_a_keyring_explains_the_choice(short_dir: Path) -> None:
    env = child_env(short_dir, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    socket = short_dir / "s" / "broker.sock"
    daemon = Proc([sys.executable, "-m", "daemon", "--environment", "production", "--socket", str(socket)], env)
    try:
        daemon.wait_for_stderr(r"server: listening on")
        status = etradectl(env, socket, "status")
        assert status.code == exit_codes.SESSION
        assert "NO_CREDENTIALS" in status.stdout
        assert "no OS keyring backend is available" in status.stdout
        login = etradectl(env, socket, "auth", "login", "--url-only")
        assert login.code == exit_codes.SESSION
        assert "ETRADE_SECRET_STORE=file" in login.stderr
        assert daemon.terminate() == 0
    finally:
        daemon.kill()
