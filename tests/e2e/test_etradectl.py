"""etradectl as a subprocess against a real daemon and emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli import exit_codes
from tests.processes import child_env, etradectl, login_with_etradectl, running_system

pytestmark = pytest.mark.e2e


def test_etradectl_drives_the_daemon_end_to_end(short_dir: Path) -> None:
    with running_system(short_dir) as system:
        before = system.ctl("status")
        assert before.code == exit_codes.SESSION
        assert "NEEDS_LOGIN" in before.stdout
        assert "mode:        single-user (the daemon runs as you" in before.stdout
        assert "etradectl auth login" in before.stderr

        login_with_etradectl(system.env, system.socket)

        status = system.ctl("--json", "status")
        assert status.code == exit_codes.OK
        assert status.json()["session"]["state"] == "SESSION_STATE_ACTIVE"
        assert status.json()["mode"] == "single-user"

        quote = system.ctl("quote", "aapl", "msft")
        assert quote.code == exit_codes.OK, quote.stderr
        assert "AAPL" in quote.stdout and "MSFT" in quote.stdout

        partial = system.ctl("--json", "quote", "AAPL", "$$$")
        assert partial.code == exit_codes.INVALID
        document = partial.json()  # exactly one JSON document on stdout
        assert [q["symbol"] for q in document["quotes"]] == ["AAPL"]
        assert "$$$" in partial.stderr

        accounts = system.ctl("--json", "accounts").json()["accounts"]
        key = accounts[0]["account_id_key"]
        portfolio = system.ctl("portfolio", key)
        assert portfolio.code == exit_codes.OK
        assert "SYMBOL" in portfolio.stdout and "market value" in portfolio.stdout
        balance = system.ctl("--json", "balance", key)
        assert balance.json()["total_account_value"] > 0

        ambiguous = system.ctl("portfolio")
        assert ambiguous.code == exit_codes.INVALID
        assert key in ambiguous.stderr  # the hint lists the keys to choose from

        unknown = system.ctl("balance", "nosuchaccountkey12345")
        assert unknown.code == exit_codes.INVALID
        assert unknown.stderr.startswith("error: ")
        assert "\nhint: " in unknown.stderr

        logout = system.ctl("auth", "logout")
        assert logout.code == exit_codes.OK
        assert system.ctl("quote", "AAPL").code == exit_codes.SESSION


def test_etradectl_without_a_daemon_exits_3_with_the_fix(short_dir: Path) -> None:
    result = etradectl(child_env(short_dir), short_dir / "none.sock", "status")
    assert result.code == exit_codes.DAEMON_UNAVAILABLE
    assert result.stdout == ""
    assert "error: the broker daemon is not running" in result.stderr
    assert "hint: start the broker daemon" in result.stderr


def test_bad_usage_exits_2(short_dir: Path) -> None:
    env = child_env(short_dir)
    assert etradectl(env, short_dir / "none.sock", "no-such-command").code == exit_codes.USAGE
    assert etradectl(env, short_dir / "none.sock", "quote").code == exit_codes.USAGE


def test_an_account_key_that_starts_with_a_dash_gets_a_hint_that_works(short_dir: Path) -> None:
    with running_system(short_dir) as system:
        login_with_etradectl(system.env, system.socket)
        keys = [a["account_id_key"] for a in system.ctl("--json", "accounts").json()["accounts"]]
        dashed = next(key for key in keys if key.startswith("-"))  # E*TRADE's keys are base64url-like

        mistaken = system.ctl("balance", dashed)
        assert mistaken.code == exit_codes.USAGE
        assert f"etradectl balance -- {dashed}" in mistaken.stderr
        assert f"--account={dashed}" in mistaken.stderr

        assert system.ctl("balance", "--", dashed).code == exit_codes.OK
        assert "goes after `--`" in system.ctl("portfolio").stderr  # the "several accounts" hint says so too
