"""Every exit status etradectl documents, produced for real and checked.

Each documented status (cli/exit_codes.py, `etradectl --help`, the README) has a scenario here;
a test fails when a status is documented without one, or documented differently in the README.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from cli import exit_codes
from cli.commands import add_command
from cli.main import build_parser, main
from emulator import Emulator
from protos.broker.v1 import API_VERSION
from tests.harness.processes import ROOT, child_env, etradectl, login_with_etradectl, running_system
from tests.harness.support import admin
from tests.rpc.service.support import daemon_speaking

README = ROOT / "README.md"


def test_0_success(short_dir: Path) -> None:
    result = etradectl(child_env(short_dir), short_dir / "none.sock", "mcp", "config")
    assert result.code == exit_codes.OK == 0
    assert json.loads(result.stdout)["mcpServers"]["etrade"]


def parser_with(name: str, handler: Callable[..., object]) -> argparse.ArgumentParser:
    """The real parser plus one command, to reach the error handler with a failure no command has."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    add_command(commands, name, help="test", description="test", examples="  etradectl test").set_defaults(
        handler=handler
    )
    return parser


def test_1_unexpected_failure_is_reported_as_a_bug(capsys: pytest.CaptureFixture[str]) -> None:
    async def broken(ctx: object, args: object) -> int:
        raise RuntimeError("a bug")

    assert main(["explode"], parser=parser_with("explode", broken)) == exit_codes.FAILURE == 1
    err = capsys.readouterr().err
    assert "error: unexpected failure: RuntimeError: a bug" in err
    assert "hint: run again with -v for details; this is a bug" in err


def test_2_usage(short_dir: Path) -> None:
    env = child_env(short_dir)
    for args in (["no-such-command"], ["quote"], ["--timeout", "0", "status"], ["service"]):
        result = etradectl(env, short_dir / "none.sock", *args)
        assert result.code == exit_codes.USAGE == 2, args


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["audit", "--limit", "99999999999"], "from 1 to 10000"),
        (["orders", "list", "key", "--limit", "-1"], "from 1 to 500"),
        (["orders", "journal", "--limit", "0"], "from 1 to 10000"),
        (["orders", "ack", "99999999999999999999999"], f"from 1 to {2**63 - 1}"),
        (["orders", "resolve", "1", "--order-id", "99999999999999999999999"], f"from 1 to {2**63 - 1}"),
        (["orders", "cancel", "12x", "--account", "key"], "expected a whole number, got '12x'"),
    ],
)
def test_numbers_out_of_range_are_usage_errors_that_name_the_range(
    short_dir: Path, args: list[str], expected: str
) -> None:
    result = etradectl(child_env(short_dir), short_dir / "none.sock", *args)
    assert result.code == exit_codes.USAGE, result.stderr
    assert expected in result.stderr
    assert "this is a bug" not in result.stderr


def test_3_daemon_unavailable(short_dir: Path) -> None:
    result = etradectl(child_env(short_dir), short_dir / "none.sock", "accounts")
    assert result.code == exit_codes.DAEMON_UNAVAILABLE == 3
    assert "hint: start the broker daemon" in result.stderr


def test_4_session_5_invalid_6_upstream_7_policy_and_130_interrupted(short_dir: Path) -> None:
    with running_system(short_dir) as system:
        not_logged_in = system.ctl("quote", "AAPL")
        assert not_logged_in.code == exit_codes.SESSION == 4
        assert "hint: log in to E*TRADE with `etradectl auth login`" in not_logged_in.stderr

        login_with_etradectl(system.env, system.socket)
        invalid = system.ctl("balance", "nosuchaccountkey12345")
        assert invalid.code == exit_codes.INVALID == 5

        # Reads are retried, so E*TRADE must keep failing for the failure to reach the user.
        admin(system.emulator_url, "faults", {"match": "quote", "status": 500})
        upstream = system.ctl("quote", "AAPL")
        assert upstream.code == exit_codes.UPSTREAM == 6
        assert "E*TRADE" in upstream.stderr
        admin(system.emulator_url, "faults", method="DELETE")

        # Exit 7: the daemon is read-only (the default), so the safety policy refuses a cancel.
        key = system.ctl("--json", "accounts").json()["accounts"][0]["account_id_key"]
        refused = system.ctl("orders", "cancel", "--account", key, "--yes", "12345")
        assert refused.code == exit_codes.POLICY == 7
        assert "ETRADE_READ_ONLY" in refused.stderr

        # Ctrl-C while etradectl waits for an answer E*TRADE is holding back.
        admin(system.emulator_url, "faults", {"match": "quote", "hold": True, "count": 1})
        waiting = subprocess.Popen(
            [sys.executable, "-m", "cli", "--socket", str(system.socket), "quote", "MSFT"],
            env=system.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        held = admin(system.emulator_url, "holds?wait=30")  # returns once the quote's answer is parked
        assert held, "the quote request never reached E*TRADE"
        waiting.send_signal(signal.SIGINT)
        _, err = waiting.communicate(timeout=30)
        admin(system.emulator_url, "holds/release", {})
        assert waiting.returncode == exit_codes.INTERRUPTED == 130
        assert "interrupted" in err


@pytest.mark.anyio
async def test_8_incompatible_versions(emulator: Emulator, short_dir: Path) -> None:
    major = int(API_VERSION.split(".")[0])
    async with daemon_speaking(emulator, short_dir, f"{major + 1}.0") as daemon:
        result = await anyio.to_thread.run_sync(lambda: etradectl(child_env(short_dir), daemon.socket, "status"))
    assert result.code == exit_codes.VERSION == 8
    assert f"the broker daemon speaks API {major + 1}.0 and this client API {API_VERSION}" in result.stderr
    assert "hint: install the same etrade-mcp version" in result.stderr


def test_9_audit_log_integrity(short_dir: Path) -> None:
    with running_system(short_dir) as system:
        login_with_etradectl(system.env, system.socket)  # audited
        assert etradectl(system.env, system.socket, "halt", "x").code == exit_codes.OK  # audited
        audit = short_dir / "state" / "etrade-mcp" / "audit.jsonl"
        lines = audit.read_text().splitlines()
        audit.write_text("\n".join(lines[1:]) + "\n")  # the first entry deleted
        result = etradectl(system.env, system.socket, "audit", "verify")
    assert result.code == exit_codes.INTEGRITY == 9
    assert "error: the audit log is NOT intact" in result.stderr


SCENARIOS = {
    0: test_0_success,
    1: test_1_unexpected_failure_is_reported_as_a_bug,
    2: test_2_usage,
    3: test_3_daemon_unavailable,
    4: test_4_session_5_invalid_6_upstream_7_policy_and_130_interrupted,
    5: test_4_session_5_invalid_6_upstream_7_policy_and_130_interrupted,
    6: test_4_session_5_invalid_6_upstream_7_policy_and_130_interrupted,
    7: test_4_session_5_invalid_6_upstream_7_policy_and_130_interrupted,
    8: test_8_incompatible_versions,
    9: test_9_audit_log_integrity,
    130: test_4_session_5_invalid_6_upstream_7_policy_and_130_interrupted,
}


def test_every_documented_status_has_a_scenario_and_the_readme_agrees() -> None:
    assert set(SCENARIOS) == set(exit_codes.DESCRIPTIONS)
    documented = {
        int(m.group(1)) for m in re.finditer(r"^\| (\d+) \| ", README.read_text(encoding="utf-8"), re.MULTILINE)
    }
    assert documented == set(exit_codes.DESCRIPTIONS)
    help_text = build_parser().format_help()
    for code, text in exit_codes.DESCRIPTIONS.items():
        assert f"  {code:<4} {text}" in help_text
