"""A day of a session with real processes: the daemon follows the emulator's clock as tests move it.

The emulator runs as its own process with a clock started at a fixed instant; the daemon reads it
over the admin interface (every 0.2 s here) and, on a jump, catches up on the session work. The
tests wait for the daemon's own log lines (bounded waits on events, never sleeps). The daemon logs
at DEBUG, and at the end no secret may appear in any process's log.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

from cli import exit_codes
from emulator import DEFAULT_CONSUMER_SECRET
from tests.harness.processes import ROOT, Proc, child_env, etradectl, read_verifier, start_daemon, start_emulator
from tests.harness.support import admin

START = "2026-03-10T10:00:00-04:00"  # a Tuesday


def login_in_one_command(env: dict[str, str], socket: Path) -> tuple[str, str]:
    """`etradectl auth login` as a human runs it: read the URL it prints, open it, type the code.

    Returns the verifier and the request token (secrets the logs must never show)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "--socket", str(socket), "auth", "login", "--no-browser"],
        env=env,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None
    url = ""
    seen: list[str] = []
    while not url:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        match = re.search(r"(http://127\.0\.0\.1:\d+/e/t/etws/authorize\?\S+)", line)
        url = match.group(1) if match else ""
    assert url, "".join(seen)
    verifier = read_verifier(url)
    out, err = proc.communicate(verifier + "\n", timeout=60)
    assert proc.returncode == 0, err
    assert "logged in; the session ends at midnight US Eastern" in out
    request_token = re.search(r"token=([^&\s]+)", url)
    assert request_token is not None
    return verifier, urllib.parse.unquote(request_token.group(1))


def saved_tokens(home: Path) -> list[str]:
    document = json.loads((home / "state" / "etrade-mcp" / "secrets.json").read_text())
    return [v for k, v in document.items() if k.endswith(("/access_token", "/access_token_secret"))]


def move_clock(url: str, daemon: Proc, body: dict[str, object], wait_for: str) -> str:
    mark = daemon.mark()
    admin(url, "clock", body)
    return daemon.wait_for_stderr(wait_for, after=mark)


def test_a_day_of_a_session_on_the_emulators_clock(short_dir: Path) -> None:
    env = child_env(short_dir, ETRADE_EMULATOR_CLOCK_POLL="0.2")
    socket = short_dir / "sock" / "broker.sock"
    emulator, url = start_emulator(env, "--latency-ms", "0", "--no-rate-limits", "--start", START)
    daemons: list[Proc] = []
    secrets = [DEFAULT_CONSUMER_SECRET]

    def daemon() -> Proc:
        proc = start_daemon(env, socket, url, "--log-level", "DEBUG")
        daemons.append(proc)
        return proc

    def ctl(*args: str) -> tuple[int, str, str]:
        result = etradectl(env, socket, *args)
        return result.code, result.stdout, result.stderr

    try:
        current = daemon()
        current.wait_for_stderr(r"clock: following the emulator's clock .* \(now 2026-03-10T10:00")
        secrets += login_in_one_command(env, socket)
        secrets += saved_tokens(short_dir)

        # Idle for 95 minutes, twice: the daemon renews by itself and verifies each renewal.
        move_clock(url, current, {"advance_seconds": 95 * 60}, r"session: the renewal was verified")
        move_clock(url, current, {"advance_seconds": 95 * 60}, r"session: the renewal was verified")
        stats = admin(url, "stats")
        assert stats["requests_by_route"]["renew_access_token"] == 2, current.stderr_text
        assert [s["state"] for s in admin(url, "sessions")["sessions"]] == ["ACTIVE"]
        code, out, err = ctl("quote", "AAPL")
        assert code == exit_codes.OK, err
        code, out, err = ctl("status")
        assert code == exit_codes.OK, err
        assert re.search(r"session: +ACTIVE", out)
        # The countdown is on the daemon's (emulator's) clock: 13:10 ET, so about 10 h 50 left.
        assert re.search(r"expires: +in 10h 4\dm \(midnight US Eastern: 2026-03-11T00:00:00-04:00", out), out
        assert re.search(r"next renewal: +in 1h 2\dm", out), out
        assert re.search(r"clock: +the emulator's clock at http://127\.0\.0\.1:\d+ \([+-]\d+d", out), out

        # A restart mid-day keeps the session.
        assert current.terminate() == 0
        admin(url, "clock", {"advance_seconds": 30 * 60})
        current = daemon()
        code, out, err = ctl("quote", "MSFT")
        assert code == exit_codes.OK, err

        # Midnight US Eastern: EXPIRED, and every call answers with the fix.
        move_clock(url, current, {"set": "2026-03-11T00:00:05-04:00"}, r"session: (ACTIVE|INACTIVE) -> EXPIRED")
        code, out, err = ctl("quote", "AAPL")
        assert code == exit_codes.SESSION
        assert "expired at midnight US Eastern" in err and "etradectl auth login" in err
        code, out, err = ctl("--json", "status")
        assert code == exit_codes.SESSION
        assert json.loads(out)["session"]["state"] == "SESSION_STATE_EXPIRED"

        # A restart after midnight: still EXPIRED (not "never logged in").
        assert current.terminate() == 0
        current = daemon()
        code, out, err = ctl("status")
        assert code == exit_codes.SESSION
        assert re.search(r"session: +EXPIRED: .*issued before the last midnight US Eastern", out), out
        assert "hint: run `etradectl auth login`" in err

        # Wednesday 09:00 ET with a dead session: the reminder.
        move_clock(url, current, {"set": "2026-03-11T09:00:00-04:00"}, r"reminder: Wednesday 2026-03-11")
        code, out, err = ctl("status")
        assert re.search(
            r"reminder: +Wednesday 2026-03-11: the E\*TRADE session expired at midnight US Eastern; "
            r"run `etradectl auth login` \(the market opens at 09:30 ET\)",
            out,
        ), out

        # One command logs in, while EXPIRED and again while ACTIVE.
        secrets += login_in_one_command(env, socket)
        secrets += saved_tokens(short_dir)
        code, out, err = ctl("status")
        assert code == exit_codes.OK and "reminder:" not in out
        secrets += login_in_one_command(env, socket)
        secrets += saved_tokens(short_dir)
        code, out, err = ctl("quote", "AAPL")
        assert code == exit_codes.OK, err

        code, out, err = ctl("auth", "logout")
        assert code == exit_codes.OK and "E*TRADE revoked the token" in out
        assert saved_tokens(short_dir) == []
    finally:
        for proc in daemons:
            proc.kill()
        emulator.kill()

    logs = "\n".join([*(proc.stderr_text for proc in daemons), emulator.stderr_text])
    assert "DEBUG" in logs  # the daemon really logged at DEBUG
    assert len(set(secrets)) == len(secrets) >= 1 + 3 * 2 + 3 * 2
    leaked = [secret for secret in secrets if secret in logs]
    assert leaked == []


def test_headless_without_a_keyring_explains_then_the_opt_in_file_store_works(short_dir: Path) -> None:
    env = child_env(short_dir, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    socket = short_dir / "sock" / "broker.sock"
    key, secret = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210fedcba98"
    with_keys = {**env, "ETRADE_CONSUMER_KEY": key, "ETRADE_CONSUMER_SECRET": secret}

    def sandbox_daemon(extra_env: dict[str, str]) -> Proc:
        proc = Proc(
            [sys.executable, "-m", "daemon", "--environment", "sandbox", "--socket", str(socket)],
            {**env, **extra_env},
            stdout=subprocess.DEVNULL,
        )
        proc.wait_for_stderr(r"server: listening on")
        return proc

    first = sandbox_daemon({})
    try:
        assert "no OS keyring backend is available" in first.wait_for_stderr(r"secrets: ")
        status = etradectl(env, socket, "status")
        assert status.code == exit_codes.SESSION
        assert "no OS keyring backend is available" in status.stdout
        assert "hint: run `etradectl auth setup`" in status.stderr
        setup = etradectl(with_keys, socket, "auth", "setup")
        assert setup.code == exit_codes.SESSION
        assert "error: the daemon cannot store the consumer credentials: no OS keyring backend" in setup.stderr
        assert "ETRADE_SECRET_STORE=file" in setup.stderr and "less safe" in setup.stderr
    finally:
        assert first.terminate() == 0

    second = sandbox_daemon({"ETRADE_SECRET_STORE": "file"})
    try:
        piped = subprocess.run(
            [sys.executable, "-m", "cli", "--socket", str(socket), "auth", "setup"],
            env=env,
            cwd=ROOT,
            input=f"{key}\n{secret}\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert piped.returncode == exit_codes.OK, piped.stderr
        assert "stored the consumer key 0123… and its secret in file" in piped.stdout
        assert "less safe" in piped.stdout
        path = short_dir / "state" / "etrade-mcp" / "secrets.json"
        assert path.stat().st_mode & 0o777 == 0o600
        status = etradectl(env, socket, "status")
        assert status.code == exit_codes.SESSION
        assert re.search(r"session: +NEEDS_LOGIN", status.stdout)
    finally:
        assert second.terminate() == 0
    for text in (first.stderr_text, second.stderr_text, piped.stdout, piped.stderr, setup.stdout, setup.stderr):
        assert secret not in text
