"""Without XDG_RUNTIME_DIR, the proxy and etradectl still find a daemon started from a login shell.

MCP clients built on the TypeScript SDK start servers with only HOME, LOGNAME, PATH, SHELL, TERM
and USER; a daemon started from a login shell listens under /run/user/UID. The test needs a user
of its own (so its /run/user/UID is not anybody's real one), hence root.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cli import exit_codes
from emulator.local_system import ROOT, Proc, start_emulator
from tests.processes import child_env
from tests.stdio_proxy import StdioProxy, tool_text

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform != "linux", reason="/run/user/UID is a Linux (systemd-logind) convention"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a throwaway user and its /run/user/UID"),
    pytest.mark.skipif(shutil.which("useradd") is None or shutil.which("setpriv") is None, reason="no useradd/setpriv"),
]


@contextmanager
def throwaway_user(home: Path) -> Iterator[pwd.struct_passwd]:
    """A new user owning ``home`` and a private /run/user/UID, all removed afterwards."""
    name = f"etmtest{secrets.token_hex(4)}"
    subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), name], check=True)
    runtime: Path | None = None
    try:
        user = pwd.getpwnam(name)
        runtime = Path("/run/user") / str(user.pw_uid)
        runtime.mkdir(mode=0o700)
        os.chown(runtime, user.pw_uid, user.pw_gid)
        for path in [home, *home.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)
        yield user
    finally:
        if runtime is not None:
            shutil.rmtree(runtime, ignore_errors=True)
        subprocess.run(["userdel", name], check=False)


def as_user(user: pwd.struct_passwd) -> list[str]:
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]


def stripped_env(user: pwd.struct_passwd, home: Path) -> dict[str, str]:
    """What a TypeScript-SDK MCP client passes on: no XDG_RUNTIME_DIR."""
    return {
        "HOME": str(home),
        "LOGNAME": user.pw_name,
        "USER": user.pw_name,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SHELL": "/bin/sh",
        "TERM": "dumb",
    }


def test_proxy_and_etradectl_find_the_login_shell_daemon_without_xdg_runtime_dir(short_dir: Path) -> None:
    home = short_dir / "home"
    home.mkdir()
    short_dir.chmod(0o711)  # the user must reach its home inside the test's private directory
    with throwaway_user(home) as user:
        runtime = Path("/run/user") / str(user.pw_uid)
        emulator, url = start_emulator(child_env(short_dir / "emulator-home"))
        login_shell = {
            **stripped_env(user, home),
            "XDG_RUNTIME_DIR": str(runtime),
            "PYTHONUNBUFFERED": "1",
            "ETRADE_DESKTOP_NOTIFICATIONS": "false",
        }
        daemon = Proc(
            [*as_user(user), sys.executable, "-m", "daemon", "--environment", "emulator", "--emulator-url", url],
            login_shell,
            stdout=subprocess.DEVNULL,
        )
        try:
            daemon.wait_for_stderr(r"server: listening on")
            assert (runtime / "etrade-mcp" / "broker.sock").exists()

            ctl = subprocess.run(
                [*as_user(user), sys.executable, "-m", "cli", "--json", "status"],
                env=stripped_env(user, home),
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
            )
            assert ctl.returncode != exit_codes.DAEMON_UNAVAILABLE, ctl.stdout + ctl.stderr

            with StdioProxy(stripped_env(user, home), wrapper=as_user(user)) as proxy:
                proxy.initialize()
                answer = proxy.call_tool("get_stock_quote", {"symbol": "MSFT"})
                assert "DAEMON_UNAVAILABLE" not in tool_text(answer), tool_text(answer)
                assert proxy.close() == 0
        finally:
            daemon.kill()
            emulator.kill()


def test_the_help_example_names_the_socket_in_env() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mcp_proxy", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert '"env": {"ETRADE_MCP_SOCKET":' in result.stdout
