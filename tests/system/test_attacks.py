"""Attacks on protected mode by a member of the clients' group (the model's shell), with real users.

Each test sets up a protected daemon as a throwaway service user against the emulator (see
``tests/system/test_protected_mode.py``), attacks it as the desktop user, and counts orders at the
emulator. A test that fails here is a hole that is still open.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.harness.processes import ROOT
from tests.system.test_protected_mode import (
    Protected,
    _why_not,
    desktop_preview,
    other_users_python,
    protected_system,
)

pytestmark = [pytest.mark.anyio, pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")]
#: A private pid and mount namespace: pids can be handed out on purpose, /proc remounted at will.
PRIVATE_PIDS = ("unshare", "--pid", "--fork", "--mount", "--mount-proc", "--propagation", "private")


def relay_attack(system: Protected) -> tuple[str, str]:
    """The attacker's fake daemon waits; root's etradectl runs with its socket in the environment."""
    lair = system.base / "home" / "lair"
    command = ["setpriv", f"--reuid={system.users.desktop}", f"--regid={system.users.desktop}", "--init-groups"]
    attacker = subprocess.Popen(
        [*command, system.python, "-m", "tests.system.token_relay_attacker", str(system.socket), str(lair)],
        env=system.env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    victim: subprocess.Popen[bytes] | None = None
    try:
        assert attacker.stdout is not None
        assert attacker.stdout.readline().strip() == "ready", attacker.stderr
        # The human runs `sudo -E etradectl orders pending` with the desktop user's environment.
        victim = subprocess.Popen(
            [sys.executable, "-m", "cli", "orders", "pending"],
            env={**system.root_env, "ETRADE_MCP_SOCKET": str(lair / system.socket.name)},
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        out, err = attacker.communicate(timeout=120)
    finally:
        for proc in (attacker, victim):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    return out, err


async def test_root_etradectl_pointed_at_a_fake_socket_does_not_hand_its_token_to_the_attacker() -> None:
    """``ETRADE_MCP_SOCKET`` kept through ``sudo -E`` names the attacker's socket, whose ``.auth``
    is a symlink to the real identity socket: root's etradectl must not carry an operator token from
    the real daemon to a socket the desktop user serves."""
    with protected_system() as system:
        accounts = system.root_ctl("--json", "accounts")
        assert accounts.code == 0, accounts.stderr
        key = next(a["account_id_key"] for a in accounts.json()["accounts"] if a["account_mode"] == "MARGIN")
        pending_id = await desktop_preview(system, key)
        out, err = relay_attack(system)
        outcome = json.loads(out.strip().splitlines()[-1])
        orders = system.emulator_orders()
        assert not str(outcome.get("list_pending", "")).startswith("OK"), (outcome, pending_id)
        assert orders == [], (outcome, orders, err)


def test_a_token_does_not_outlive_its_process_when_proc_is_hidden_from_the_daemon() -> None:
    """The protected unit's ``ProtectProc=invisible`` hides other users' processes from the daemon:
    a token must still die with its process, not pass to whichever process gets its pid next."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) for a private pid namespace")
    python, python_env = other_users_python()
    probe = subprocess.run(
        [*PRIVATE_PIDS, python, "-m", "tests.system.pid_reuse_probe"],
        env={**os.environ, **python_env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    outcome = json.loads(probe.stdout.strip().splitlines()[-1])
    assert outcome["pid_reused"], outcome
    assert not outcome["start_seen"], outcome  # as under the unit: the daemon cannot see the start time
    assert not outcome["resolved_after_reuse"], "root's token passed to the next process with its pid"
