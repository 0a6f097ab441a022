"""Protected mode's installation: ``etradectl service install --system`` as a real process.

The dry run and the rendered files are checked anywhere; the real install (accounts, membership,
files, the consumer pair moved out of a desktop user's store) needs root and runs with throwaway
users and groups under unique names, removed afterwards, with ``--root`` relocating every file.
"""

from __future__ import annotations

import grp
import importlib.util
import json
import os
import plistlib
import pwd
import py_compile
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.system_service import LINUX_DIRS, MACOS_DIRS, is_system_socket, render_system_plist, render_system_unit
from daemon.secret_store import CONSUMER_KEY, CONSUMER_SECRET, FileSecretStore

BIN = Path(sys.executable).parent
DAEMON = BIN / "etrade-daemon"
ETRADECTL = BIN / "etradectl"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="creates throwaway users and groups: needs root")
needs_useradd = pytest.mark.skipif(shutil.which("useradd") is None, reason="useradd is not installed here")


def etradectl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ETRADECTL), *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_the_system_unit_runs_the_daemon_as_its_user_with_systemds_directories_and_hardening() -> None:
    settings = unit_settings(render_system_unit(DAEMON, user="svc", group="clients"))
    assert settings["ExecStart"] == [f"{DAEMON} --system"]
    assert settings["User"] == ["svc"] and settings["Group"] == ["clients"]
    assert settings["StateDirectory"] == ["etrade-mcp"] and settings["StateDirectoryMode"] == ["0700"]
    assert settings["RuntimeDirectory"] == ["etrade-mcp"] and settings["RuntimeDirectoryMode"] == ["0750"]
    assert settings["ConfigurationDirectory"] == ["etrade-mcp"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "RestrictSUIDSGID": "yes",
        "LockPersonality": "yes",
        "SystemCallArchitectures": "native",
        "UMask": "0077",
        "CapabilityBoundingSet": "",
    }.items():
        assert settings[key] == [value], key
    assert settings["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6 AF_NETLINK"]
    # These break the daemon (peer uids, libffi closures): they must stay out.
    assert "PrivateUsers" not in settings and "MemoryDenyWriteExecute" not in settings
    assert settings["WantedBy"] == ["multi-user.target"]


def test_the_service_reads_bytecode_only_from_its_own_cache(tmp_path: Path) -> None:
    """A .pyc planted in a __pycache__ beside a module runs instead of the module, unless Python's
    cache prefix points elsewhere; both service definitions point it at the service's own folder."""
    settings = unit_settings(render_system_unit(DAEMON, user="svc", group="clients"))
    environment = dict(line.split("=", 1) for line in settings["Environment"])
    assert environment["PYTHONPYCACHEPREFIX"] == str(LINUX_DIRS.cache)
    assert settings["CacheDirectory"] == [LINUX_DIRS.cache.name] and settings["CacheDirectoryMode"] == ["0700"]
    assert LINUX_DIRS.cache.parent == Path("/var/cache")  # where systemd puts CacheDirectory=
    document = plistlib.loads(render_system_plist(DAEMON, user="_etrade", group="etrade"))
    assert document["EnvironmentVariables"]["PYTHONPYCACHEPREFIX"] == str(MACOS_DIRS.cache)

    code = tmp_path / "code"
    code.mkdir()
    module = code / "victim.py"
    module.write_text('print("planted")\n')
    py_compile.compile(str(module), cfile=importlib.util.cache_from_source(str(module)))
    written = module.stat()
    module.write_text('print("source!")\n')  # same size and time: the planted .pyc still matches
    os.utime(module, ns=(written.st_atime_ns, written.st_mtime_ns))

    def run(**env: str) -> str:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        result = subprocess.run(
            [sys.executable, "-c", "import victim"],
            cwd=code,
            env={**clean, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert run() == "planted"  # the threat: whoever writes __pycache__ chooses what runs
    # The service's environment, its cache folder relocated (as --root does for every file).
    relocated = tmp_path / environment["PYTHONPYCACHEPREFIX"].lstrip("/")
    assert run(PYTHONPYCACHEPREFIX=str(relocated)) == "source!"


@needs_root
@pytest.mark.parametrize("planted", ["__pycache__", "__pycache__/mod.cpython-311.pyc"])
@pytest.mark.parametrize("how", ["group-writable", "owned by another user"])
def test_a_bytecode_cache_others_can_write_makes_the_code_unsafe(tmp_path: Path, planted: str, how: str) -> None:
    from cli.code_owner import unsafe_trees

    tmp_path.chmod(0o755)
    package = tmp_path / "pkg"
    (package / "__pycache__").mkdir(parents=True, mode=0o755)
    (package / "mod.py").write_text("x = 1\n")
    (package / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"")
    for path in [package, *package.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert unsafe_trees([package]) == []  # the rest of the tree is root's alone

    target = package / planted
    if how == "group-writable":
        target.chmod(target.stat().st_mode | 0o020)
    else:
        os.chown(target, 65534, 65534)
    problems = unsafe_trees([package])
    assert len(problems) == 1 and problems[0].startswith(f"{target} is ")


def test_code_under_a_home_folder_keeps_home_readable_for_the_service() -> None:
    settings = unit_settings(render_system_unit(Path("/home/me/venv/bin/etrade-daemon"), user="u", group="g"))
    assert settings["ProtectHome"] == ["read-only"]
    settings = unit_settings(render_system_unit(DAEMON, user="u", group="g", code=[Path("/root/.pyenv/lib")]))
    assert settings["ProtectHome"] == ["read-only"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verifies_the_system_unit(tmp_path: Path) -> None:
    unit = tmp_path / "etrade-daemon.service"
    name = f"etrade-t{secrets.token_hex(3)}"
    unit.write_text(render_system_unit(DAEMON, user=name, group=name))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "etrade-daemon.service" not in result.stderr, result.stderr  # unknown settings are only warnings


def test_the_launch_daemon_plist_parses_and_runs_as_the_service_user() -> None:
    document = plistlib.loads(render_system_plist(DAEMON, user="_etrade", group="etrade clients"))
    assert document["UserName"] == "_etrade" and document["GroupName"] == "etrade clients"
    assert document["ProgramArguments"] == [str(DAEMON), "--system"]
    assert document["EnvironmentVariables"]["STATE_DIRECTORY"] == str(MACOS_DIRS.state)
    assert document["EnvironmentVariables"]["RUNTIME_DIRECTORY"] == str(MACOS_DIRS.runtime)
    assert document["EnvironmentVariables"]["CONFIGURATION_DIRECTORY"] == str(MACOS_DIRS.config)
    assert document["EnvironmentVariables"]["PYTHONPYCACHEPREFIX"] == str(MACOS_DIRS.cache)
    assert document["Umask"] == 0o077


def test_the_system_socket_means_protected_mode() -> None:
    assert is_system_socket(LINUX_DIRS.socket) and LINUX_DIRS.socket == Path("/run/etrade-mcp/etrade.sock")
    assert is_system_socket(MACOS_DIRS.socket)
    assert not is_system_socket(Path("/run/user/1000/etrade-mcp/broker.sock"))


@pytest.mark.parametrize("platform", ["linux", "macos"])
def test_a_dry_run_prints_every_step_and_writes_nothing(tmp_path: Path, platform: str) -> None:
    name = f"etrade-t{secrets.token_hex(3)}"
    result = etradectl(
        "service",
        "install",
        "--system",
        "--dry-run",
        "--platform",
        platform,
        "--user-name",
        name,
        "--group",
        name,
        "--root",
        str(tmp_path),
        "--move-credentials",
        env={"SUDO_USER": "alice"},
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("dry run: nothing is created, written or run")
    assert f"create group {name}" in out
    assert f"create system user {name} (group {name}" in out
    assert f"add alice to group {name}" in out
    assert "read_only = true" in out  # the default config, shown in full
    if platform == "linux":
        assert f"write {tmp_path}/etc/systemd/system/etrade-daemon.service:" in out
        assert f"    User={name}" in out and f"    ExecStart={DAEMON} --system" in out
    else:
        assert f"write {tmp_path}/Library/LaunchDaemons/org.etrade-mcp.daemon.plist:" in out
        assert f"<string>{name}</string>" in out
    assert "credentials: move alice's consumer key and secret into" in out
    assert "run: systemctl" not in out  # a relocated root runs no service-manager command
    assert list(tmp_path.iterdir()) == []


def test_a_dry_run_without_root_shows_the_service_manager_commands() -> None:
    result = etradectl("service", "install", "--system", "--dry-run", "--platform", "linux")
    assert result.returncode == 0, result.stderr
    assert "run: systemctl daemon-reload" in result.stdout or "keep /etc/systemd" in result.stdout
    assert "run: systemctl enable etrade-daemon.service" in result.stdout
    uninstall = etradectl("service", "uninstall", "--system", "--dry-run")
    assert uninstall.returncode == 0, uninstall.stderr
    assert "run: systemctl disable --now etrade-daemon.service" in uninstall.stdout
    assert "kept: /var/lib/etrade-mcp" in uninstall.stdout


def test_the_per_user_options_are_refused_without_system() -> None:
    result = etradectl("service", "install", "--dry-run", "--user-name", "x")
    assert result.returncode == 2
    assert "only work with --system" in result.stderr


# --- the real thing, as root ------------------------------------------------------------------


def _run(*command: str) -> None:
    subprocess.run(command, check=False, capture_output=True, timeout=60)


@pytest.fixture
def throwaway() -> Iterator[tuple[str, str, Path]]:
    """A unique service name (user and group) and a desktop user with a home we can see into."""
    suffix = secrets.token_hex(3)
    service, desktop = f"etrade-s{suffix}", f"etrade-d{suffix}"
    base = Path(tempfile.mkdtemp(prefix="etrade-home-", dir="/tmp"))
    base.chmod(0o755)
    home = base / desktop
    try:
        subprocess.run(
            ["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/sh", desktop],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield service, desktop, home
    finally:
        _run("userdel", service)
        _run("userdel", desktop)
        _run("groupdel", service)
        _run("groupdel", desktop)
        shutil.rmtree(base, ignore_errors=True)


def _give_desktop_user_a_consumer_pair(desktop: str, home: Path) -> Path:
    account = pwd.getpwnam(desktop)
    config = home / ".config" / "etrade-mcp" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('secret_store = "file"\n')
    state = home / ".local" / "state" / "etrade-mcp"
    store = FileSecretStore(state / "secrets.json", "sandbox")
    store.set(CONSUMER_KEY, "ck-sandbox-123")
    store.set(CONSUMER_SECRET, "cs-sandbox-456")
    store.set("access_token", "at-789")
    for folder, _dirs, files in os.walk(home):
        for path in [Path(folder), *(Path(folder) / f for f in files)]:
            os.chown(path, account.pw_uid, account.pw_gid)
    return state / "secrets.json"


@needs_root
@needs_useradd
@pytest.mark.skipif(sys.platform != "linux", reason="creates Linux accounts with useradd")
def test_install_creates_the_accounts_moves_the_pair_and_a_second_run_changes_nothing(
    tmp_path: Path, throwaway: tuple[str, str, Path]
) -> None:
    service, desktop, home = throwaway
    user_secrets = _give_desktop_user_a_consumer_pair(desktop, home)
    root = tmp_path / "root"
    args = ("service", "install", "--system", "--user-name", service, "--group", service, "--root", str(root))

    first = etradectl(*args, "--move-credentials", env={"SUDO_USER": desktop})
    assert first.returncode == 0, first.stderr + first.stdout
    assert "protected mode is installed" in first.stdout

    # Accounts: a system user without a login shell, in the clients' group, which the desktop user joined.
    account = pwd.getpwnam(service)
    group = grp.getgrnam(service)
    assert account.pw_gid == group.gr_gid and account.pw_uid < 1000
    assert account.pw_shell.endswith(("nologin", "false"))
    assert desktop in grp.getgrnam(service).gr_mem

    # Files: the unit and a root-owned, read-only-by-default config.
    unit = root / "etc/systemd/system/etrade-daemon.service"
    assert f"User={service}" in unit.read_text()
    config = root / "etc/etrade-mcp/config.toml"
    info = config.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o644)
    assert "read_only = true" in config.read_text()

    # The consumer pair: in the service user's 0600 file, gone from the desktop user's (tokens too).
    moved = root / "var/lib/etrade-mcp/secrets.json"
    info = moved.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (account.pw_uid, 0o600)
    assert stat.S_IMODE(moved.parent.stat().st_mode) == 0o700
    assert json.loads(moved.read_text()) == {
        "sandbox/consumer_key": "ck-sandbox-123",
        "sandbox/consumer_secret": "cs-sandbox-456",
    }
    assert json.loads(user_secrets.read_text()) == {}
    assert "sudo etradectl auth login" in first.stdout
    assert "ck-sandbox-123" not in first.stdout + first.stderr and "cs-sandbox-456" not in first.stdout + first.stderr

    # Idempotent: nothing changes, and it says so; an operator's edit of the config survives.
    config.write_text(config.read_text().replace("read_only = true", "read_only = false"))
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    again = etradectl(*args, env={"SUDO_USER": desktop})  # no flag and no terminal: it cannot ask
    assert again.returncode == 0, again.stderr
    assert "credentials: not moved (no terminal to ask on)" in again.stderr
    assert "nothing changed (it already was)" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == before
    assert "read_only = false" in config.read_text()
    dry = etradectl(*args, "--dry-run", env={"SUDO_USER": desktop})
    assert "(and nothing would change)" in dry.stdout, dry.stdout

    # Uninstall keeps the state; --purge deletes it.
    removed = etradectl("service", "uninstall", "--system", "--root", str(root))
    assert removed.returncode == 0, removed.stderr
    assert not unit.exists() and moved.exists()
    purged = etradectl("service", "uninstall", "--system", "--root", str(root), "--purge")
    assert purged.returncode == 0, purged.stderr
    assert not moved.parent.exists()


def test_only_a_well_formed_consumer_pair_is_taken_from_the_desktop_users_side() -> None:
    from cli.credentials_move import _valid_pairs

    good = {"sandbox": {"consumer_key": "k", "consumer_secret": "s"}}
    assert _valid_pairs(json.dumps(good)) == good
    assert _valid_pairs("") == {}
    for bad in (
        "not json",
        "[]",
        json.dumps({"../../etc": good["sandbox"]}),
        json.dumps({"sandbox": {"consumer_key": "k"}}),
        json.dumps({"sandbox": {"consumer_key": "k", "consumer_secret": "s", "access_token": "t"}}),
        json.dumps({"sandbox": {"consumer_key": "k\x1b[2J", "consumer_secret": "s"}}),
        json.dumps({"production": {"consumer_key": "k" * 600, "consumer_secret": "s"}}),
        json.dumps({"sandbox": {"consumer_key": 1, "consumer_secret": "s"}}),
    ):
        assert _valid_pairs(bad) is None, bad
