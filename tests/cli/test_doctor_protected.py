"""``doctor``'s protected-mode checks: the mode read from the socket, and a sudo that must ask.

The sudo check runs the real ``sudo -n true`` as a throwaway desktop user (a forked child that
became that user), once with no sudoers rule and once with a NOPASSWD rule in /etc/sudoers.d.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import doctor
from cli.system_service import LINUX_DIRS, MACOS_DIRS

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="creates a throwaway user and a sudoers rule: needs root")
needs_sudo = pytest.mark.skipif(
    shutil.which("sudo") is None or not Path("/etc/sudoers").exists(),
    reason="sudo is not installed here (apt-get install sudo)",
)


def findings(socket: Path, home: Path) -> doctor.Findings:
    return doctor.Findings(environ={"HOME": str(home), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, socket=socket)


def test_the_system_socket_is_protected_mode_and_a_user_socket_single_user(tmp_path: Path) -> None:
    assert doctor.mode_of(LINUX_DIRS.socket) == "protected"
    assert doctor.mode_of(MACOS_DIRS.socket) == "protected"
    assert doctor.mode_of(tmp_path / "etrade-mcp" / "broker.sock") == "single-user"
    check = doctor.check_mode(findings(LINUX_DIRS.socket, tmp_path))
    assert check.status == "ok" and check.summary.startswith("protected")
    single = doctor.check_mode(findings(tmp_path / "broker.sock", tmp_path))
    assert single.status == "ok" and "sudo etradectl service install --system" in single.summary


def test_sudo_is_not_checked_in_single_user_mode_nor_as_root(tmp_path: Path) -> None:
    assert doctor.check_sudo(findings(tmp_path / "broker.sock", tmp_path)).status == "skip"
    if os.geteuid() == 0:
        check = doctor.check_sudo(findings(LINUX_DIRS.socket, tmp_path))
        assert check.status == "skip" and "desktop user" in check.summary


@pytest.fixture
def desktop_user() -> Iterator[str]:
    name = f"etrade-d{secrets.token_hex(3)}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name], check=True, capture_output=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], capture_output=True, check=False)


def check_sudo_as(user: str) -> dict[str, str]:
    """``check_sudo`` in protected mode, run by ``user`` (a forked child: no exec needed)."""
    account = pwd.getpwnam(user)
    read, write = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() beside threads; the child only runs what is already imported.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
            check = doctor.check_sudo(findings(LINUX_DIRS.socket, Path("/")))
            os.write(write, json.dumps(check.as_dict()).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    result: dict[str, str] = json.loads(data)
    return result


@needs_root
@needs_sudo
def test_doctor_passes_when_sudo_asks_and_fails_with_the_fix_when_it_does_not(desktop_user: str) -> None:
    asking = check_sudo_as(desktop_user)
    assert asking["status"] == "ok", asking

    rule = Path("/etc/sudoers.d") / f"etrade-test-{secrets.token_hex(3)}"
    rule.parent.mkdir(mode=0o750, exist_ok=True)
    try:
        rule.write_text(f"{desktop_user} ALL=(ALL) NOPASSWD: ALL\n")
        rule.chmod(0o440)
        open_door = check_sudo_as(desktop_user)
    finally:
        rule.unlink(missing_ok=True)
    assert open_door["status"] == "fail"
    assert "succeeded without a password" in open_door["summary"]
    assert open_door["fix"] is not None and "NOPASSWD" in open_door["fix"] and "sudo -k" in open_door["fix"]


@needs_root
def test_a_protected_config_must_be_roots_alone(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir(mode=0o755)
    config = folder / "config.toml"
    config.write_text("read_only = true\n")
    config.chmod(0o644)
    assert doctor.config_not_roots(config) is None
    config.chmod(0o664)
    assert doctor.config_not_roots(config) == f"{config} is mode 0664 (writable by its group or everyone)"
    config.chmod(0o644)
    os.chown(config, 65534, 0)
    assert doctor.config_not_roots(config) == f"{config} belongs to uid 65534"


def test_a_protected_daemon_that_does_not_answer_is_started_with_sudo(tmp_path: Path) -> None:
    fix = doctor._start_fix(findings(LINUX_DIRS.socket, tmp_path))
    assert "sudo etradectl service start --system" in fix
