"""Protected mode with real OS users: a shell running as the desktop user cannot trade.

As root, the test creates a throwaway service user, a clients' group and a "desktop" user in that
group (random names), starts ``etrade-daemon --system`` as the service user against the emulator,
logs in as root with etradectl, then, as the desktop user, drives etrade-mcp over stdio (reads and
previews work) and tries every way around the human that worked in single-user mode. The emulator's
order count stays 0 until root confirms; then exactly one order exists and its audit entries carry
uid 0 and the pid of root's etradectl. Users, group and directories are removed afterwards, also
when the test fails. Skips, saying why, when not root or without useradd/setpriv.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from cli import exit_codes
from emulator.local_system import ROOT, Proc, child_env, login_with_etradectl, start_emulator
from tests.argv_scanner import scanning
from tests.processes import etradectl

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

#: A Tuesday morning on the emulator's clock: MARKET orders are accepted in the regular session only.
REGULAR_SESSION = "2026-03-10T11:00:00-04:00"
TOOLS = ("useradd", "groupadd", "userdel", "groupdel", "setpriv", "script")


def _why_not() -> str | None:
    if sys.platform != "linux":
        return "protected mode's tests need Linux (SO_PEERCRED, useradd)"
    if os.geteuid() != 0:
        return "protected mode's tests need root (they create throwaway users with useradd)"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    return f"missing {', '.join(missing)}" if missing else None


pytestmark.append(pytest.mark.skipif(_why_not() is not None, reason=_why_not() or ""))


def _reachable_by_others(path: Path) -> bool:
    """Whether a user that is not root could execute ``path`` (every directory on the way o+x)."""
    path = path.resolve()
    return all(part.stat().st_mode & 0o001 for part in [*path.parents, path])


def other_users_python() -> tuple[str, dict[str, str]]:
    """An interpreter the test's users can run, and the environment that lets it find our packages.

    The suite's own interpreter may live where only root can enter (e.g. /root/.pyenv); then the
    system's python of the same version runs with the virtualenv's site-packages on PYTHONPATH.
    """
    if _reachable_by_others(Path(sys.executable)):
        return sys.executable, {}
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(version, path="/usr/local/bin:/usr/bin:/bin")
    if system is None or not _reachable_by_others(Path(system)):
        pytest.skip(f"no {version} that other users can run (the suite's is {sys.executable})")
    site = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    if not all(_reachable_by_others(Path(p)) for p in site):
        pytest.skip("the virtualenv's site-packages are not readable by other users")
    return system, {"PYTHONPATH": os.pathsep.join(site)}


@dataclass
class Users:
    service: str
    clients: str
    desktop: str

    @property
    def desktop_uid(self) -> int:
        return pwd.getpwnam(self.desktop).pw_uid


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=60)


@contextlib.contextmanager
def throwaway_users() -> Iterator[Users]:
    suffix = secrets.token_hex(3)
    users = Users(service=f"etmsvc{suffix}", clients=f"etmcli{suffix}", desktop=f"etmdsk{suffix}")
    created: list[tuple[str, str]] = []
    try:
        _run("groupadd", users.clients)
        created.append(("groupdel", users.clients))
        _run("useradd", "--system", "--no-create-home", "-g", users.clients, "-s", "/usr/sbin/nologin", users.service)
        created.insert(0, ("userdel", users.service))
        _run("useradd", "--no-create-home", "--user-group", "-G", users.clients, "-s", "/bin/sh", users.desktop)
        created.insert(0, ("userdel", users.desktop))
        yield users
    finally:
        for command, name in created:
            subprocess.run([command, name], capture_output=True, timeout=60)
        # useradd --user-group made the desktop user's own group; userdel removes it with the user.
        subprocess.run(["groupdel", users.desktop], capture_output=True, timeout=60)


@dataclass
class Protected:
    base: Path
    users: Users
    python: str
    env: dict[str, str]
    root_env: dict[str, str]
    socket: Path
    config: Path
    state: Path
    emulator_url: str
    daemon: Proc

    def as_desktop(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        command = ["setpriv", f"--reuid={self.users.desktop}", f"--regid={self.users.desktop}", "--init-groups"]
        return subprocess.run(
            [*command, *args], env=self.env, cwd=ROOT, capture_output=True, text=True, input=input, timeout=90
        )

    def ctl_as_desktop(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.as_desktop(self.python, "-m", "cli", "--socket", str(self.socket), *args, input=input)

    def root_ctl(self, *args: str) -> Any:
        return etradectl(self.root_env, self.socket, *args)

    def emulator_orders(self) -> list[dict[str, Any]]:
        import urllib.request

        with urllib.request.urlopen(f"{self.emulator_url}/_emulator/orders", timeout=30) as response:
            orders: list[dict[str, Any]] = json.loads(response.read())["orders"]
        return orders


@contextlib.contextmanager
def protected_system() -> Iterator[Protected]:
    python, python_env = other_users_python()
    with contextlib.ExitStack() as cleanup:
        # Undone in reverse: the daemon stops before its user is removed (userdel refuses a busy user).
        users = cleanup.enter_context(throwaway_users())
        base = Path(tempfile.mkdtemp(prefix="etm-protected-"))
        cleanup.callback(shutil.rmtree, base, True)
        os.chmod(base, 0o755)
        home = base / "home"  # the desktop user's HOME: its own, as on a real machine
        home.mkdir(mode=0o700)
        shutil.chown(home, users.desktop, users.desktop)
        env = child_env(home, **python_env)
        env.pop("XDG_RUNTIME_DIR")
        root_env = child_env(base / "roothome")
        emulator, url = start_emulator(root_env, "--latency-ms", "0", "--no-rate-limits", "--start", REGULAR_SESSION)
        cleanup.callback(emulator.kill)
        etc, state, run = base / "etc", base / "state", base / "run"
        etc.mkdir(mode=0o755)
        config = etc / "config.toml"
        config.write_text(
            f'environment = "emulator"\nemulator_url = "{url}"\nread_only = false\n'
            f'clients_group = "{users.clients}"\ndesktop_notifications = false\nnotify_codes = false\n',
            encoding="utf-8",
        )
        os.chmod(config, 0o644)
        state.mkdir(mode=0o700)
        shutil.chown(state, users.service, users.clients)
        run.mkdir(mode=0o750)
        shutil.chown(run, users.service, users.clients)
        daemon_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "STATE_DIRECTORY": str(state),
            "RUNTIME_DIRECTORY": str(run),
            "CONFIGURATION_DIRECTORY": str(etc),
            # Must be ignored in protected mode (and never be readable by the desktop user).
            "ETRADE_CONSUMER_KEY": "from-the-environment",
            "ETRADE_CONSUMER_SECRET": "from-the-environment",
            "PYTHONUNBUFFERED": "1",
            **python_env,
        }
        service = ["setpriv", f"--reuid={users.service}", f"--regid={users.clients}", "--init-groups"]
        daemon = Proc([*service, python, "-m", "daemon", "--system"], daemon_env, stdout=subprocess.DEVNULL)
        cleanup.callback(daemon.kill)
        daemon.wait_for_stderr(r"server: listening on")
        assert "ignoring ETRADE_CONSUMER_KEY" in daemon.wait_for_stderr(r"ignoring ETRADE_CONSUMER_KEY")
        socket = run / "etrade.sock"
        system = Protected(base, users, python, env, root_env, socket, config, state, url, daemon)
        login_with_etradectl(root_env, socket)
        yield system


def auth_socket(system: Protected) -> Path:
    return system.socket.with_name(system.socket.name + ".auth")


def text_of(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


async def desktop_preview(system: Protected, key: str) -> str:
    users = system.users
    params = StdioServerParameters(
        command="setpriv",
        args=[
            f"--reuid={users.desktop}",
            f"--regid={users.desktop}",
            "--init-groups",
            system.python,
            "-m",
            "mcp_proxy",
            "--socket",
            str(system.socket),
        ],
        env=system.env,
        cwd=str(ROOT),
    )
    with anyio.fail_after(60):
        async with Client(params) as mcp:
            accounts = await mcp.call_tool("list_accounts", {})
            assert not accounts.is_error, text_of(accounts)
            quote = await mcp.call_tool("get_stock_quote", {"symbol": "KO"})
            assert not quote.is_error, text_of(quote)
            preview = await mcp.call_tool(
                "preview_order",
                {"account_id_key": key, "symbol": "KO", "order_action": "BUY", "quantity": 1, "price_type": "MARKET"},
            )
    assert not preview.is_error, text_of(preview)
    assert preview.structured_content is not None
    return str(preview.structured_content["pending_id"])


def confirm_as_root(system: Protected, pending_id: str) -> tuple[int, int, str]:
    """``etradectl orders confirm`` as root: (its pid, its exit status, its stderr)."""
    confirmer = subprocess.Popen(
        [sys.executable, "-m", "cli", "--socket", str(system.socket), "orders", "confirm", pending_id, "--yes"],
        env=system.root_env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _out, err = confirmer.communicate(timeout=90)
    return confirmer.pid, confirmer.returncode, err


def refused_for_authority(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == exit_codes.POLICY and "needs operator authority" in result.stderr


async def test_a_desktop_user_cannot_trade_and_root_can() -> None:
    # Another local user reads every process's command line throughout: nothing secret may be there.
    with scanning() as scanner, protected_system() as system:
        accounts = system.root_ctl("--json", "accounts")
        assert accounts.code == 0, accounts.stderr
        key = next(a["account_id_key"] for a in accounts.json()["accounts"] if a["account_mode"] == "MARGIN")

        # The clients' group may connect; nobody else may even look.
        clients_gid = grp.getgrnam(system.users.clients).gr_gid
        for path, mode in ((system.socket.parent, 0o750), (system.socket, 0o660), (auth_socket(system), 0o660)):
            info = path.stat()
            assert (stat.S_IMODE(info.st_mode), info.st_gid) == (mode, clients_gid), path
            assert info.st_uid == pwd.getpwnam(system.users.service).pw_uid

        # The model's side, as the desktop user over real stdio: reads and a preview work.
        pending_id = await desktop_preview(system, key)

        # Reading the codes.
        pending = system.ctl_as_desktop("--json", "orders", "pending")
        assert refused_for_authority(pending), pending.stderr
        assert "sudo etradectl" in pending.stderr and "orders pending" in pending.stderr
        # Confirming, with --yes and through a fake terminal.
        confirm = system.ctl_as_desktop("orders", "confirm", pending_id, "--yes")
        assert refused_for_authority(confirm), confirm.stderr
        assert f"sudo etradectl --socket {system.socket} orders confirm {pending_id} --yes" in confirm.stderr
        ctl = f"{system.python} -m cli --socket {system.socket} orders confirm {pending_id}"
        faked = system.as_desktop("script", "-qec", ctl, "/dev/null", input="yes\n")
        assert faked.returncode != 0 and "needs operator authority" in faked.stdout + faked.stderr
        # Anyone may stop trading; only the operator may start it again.
        assert system.ctl_as_desktop("halt", "desktop").returncode == 0
        resume = system.ctl_as_desktop("resume")
        assert refused_for_authority(resume), resume.stderr
        # The configuration: read-only to the desktop user.
        edit = system.as_desktop("sh", "-c", f"echo 'read_only = false' >> {system.config}")
        assert edit.returncode != 0
        # The service user's state: secrets, journal, audit log.
        files = [p for p in system.state.rglob("*") if p.is_file()]
        assert any(p.name == "secrets.json" for p in files), files
        assert system.as_desktop("ls", str(system.state)).returncode != 0
        for path in files:
            assert system.as_desktop("cat", str(path)).returncode != 0, path
        assert (system.state / "secrets.json").stat().st_mode & 0o077 == 0
        # Raw gRPC: every operator RPC on every socket, as etradectl, with and without a token.
        raw = system.as_desktop(system.python, "-m", "tests.service.protected_attacker", str(system.socket))
        assert raw.returncode == 0, raw.stderr
        outcomes = json.loads(raw.stdout)
        assert outcomes and all(outcome != "OK" for outcome in outcomes.values()), outcomes
        assert any("OPERATOR_AUTHORITY_REQUIRED" in o for o in outcomes.values())
        assert any("CALLER_UNIDENTIFIED" in o for o in outcomes.values())
        # The daemon's environment and memory.
        pid = system.daemon.popen.pid
        for name in ("environ", "mem"):
            peek = system.as_desktop("cat", f"/proc/{pid}/{name}")
            assert peek.returncode != 0 and "from-the-environment" not in peek.stdout
        assert system.emulator_orders() == []

        # The human, with sudo (here: root): sees the code, resumes, confirms; exactly one order.
        listing = system.root_ctl("--json", "orders", "pending")
        assert listing.code == 0, listing.stderr
        codes = {p["pending"]["pending_id"]: p["confirmation_code"] for p in listing.json()["pending"]}
        assert codes.get(pending_id)
        assert system.root_ctl("resume").code == 0
        confirmer_pid, returncode, err = confirm_as_root(system, pending_id)
        assert returncode == 0, err
        assert len(system.emulator_orders()) == 1
        audit = system.root_ctl("--json", "audit", "--limit", "50")
        assert audit.code == 0, audit.stderr
        entries = audit.json()["entries"]
        accepted = [e["data"] for e in entries if e["event"] == "confirmation.accepted"]
        assert accepted and accepted[-1]["caller_uid"] == 0 and accepted[-1]["caller_pid"] == confirmer_pid
        previewed = [e["data"] for e in entries if e["event"] == "order.previewed"]
        assert previewed and previewed[-1]["caller_uid"] == system.users.desktop_uid
        shown = system.root_ctl("audit", "--limit", "50")
        assert f"uid=0 pid={confirmer_pid}" in shown.stdout
        stored = json.loads((system.state / "secrets.json").read_text())
        secrets_seen = [*codes.values(), *(value for value in stored.values() if len(value) >= 8)]
    # The scan saw the daemon, the proxy and the confirmation, and no code, token or consumer secret.
    assert scanner.seen_argv("--system") and scanner.seen_argv("mcp_proxy")
    assert scanner.seen_argv("orders", "confirm", pending_id)
    assert len(secrets_seen) >= 4 and scanner.passes > 10
    assert scanner.leaks(secrets_seen) == []
