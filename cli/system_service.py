"""Protected mode's installation: etrade-daemon as a system service running as its own OS user.

``sudo etradectl service install --system`` creates the service user and the clients' group
(adding the desktop user who ran sudo), writes a systemd system unit (Linux) or a LaunchDaemon
plist (macOS), a root-owned default ``config.toml`` when there is none, and starts the service.

Like :mod:`cli.service_manager`, everything is first a :class:`SystemPlan` — pure data, so
``--dry-run`` prints exactly what would be created, written and run — then carried out step by
step. Invariants:

- Idempotent: an existing account, membership, directory, unit or config is left alone; a second
  run changes nothing and says so.
- A config file that exists is never rewritten (the operator's settings, and the read-only default,
  are theirs); the one written is root's, mode 0644.
- ``root`` relocates every *file* written (tests, image builds); accounts are always the machine's,
  and with a relocated root no service-manager command is run.
- The daemon's code must be writable by root only: a desktop user who can edit it runs code as the
  service user. An install from such code is refused.
"""

from __future__ import annotations

import grp
import os
import plistlib
import pwd
import shlex
import shutil
import stat
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from broker_client import paths
from broker_client.errors import DaemonUnavailable, ErrorCode, InvalidRequest
from cli.code_owner import code_roots, unreachable_code, unsafe_code
from cli.installation import shared_dir
from cli.os_accounts import AddMember, EnsureGroup, EnsureUser, account_commands, group_exists, is_member, user_exists
from cli.service_manager import (
    LAUNCHD_LABEL,
    UNIT_NAME,
    Launchd,
    Manager,
    Platform,
    Remove,
    Run,
    Systemd,
    Write,
    check,
    fill_template,
    run,
    systemd_quote,
    write_atomically,
)

SERVICE_USER = "etrade-mcp"
CLIENTS_GROUP = "etrade-mcp"
SOCKET_NAME = "etrade.sock"
SYSTEM_UNIT_TEMPLATE = "etrade-daemon-system.service.in"
SYSTEM_PLIST_TEMPLATE = "etrade-daemon-system.plist.in"
SYSTEM_UNIT_PATH = Path("/etc/systemd/system") / UNIT_NAME
LAUNCH_DAEMON_PATH = Path("/Library/LaunchDaemons") / f"{LAUNCHD_LABEL}.plist"
# Home folders hold the users' own files; a daemon under one needs them readable, not hidden.
HOME_ROOTS = (Path("/home"), Path("/root"), Path("/run/user"), Path("/Users"))


@dataclass(frozen=True)
class SystemDirs:
    """Where the protected daemon keeps its state, its socket and its configuration."""

    state: Path
    runtime: Path
    config: Path
    #: The service's own bytecode cache (PYTHONPYCACHEPREFIX): Python then reads no ``__pycache__``
    #: in the code's tree, where a bytecode file someone else planted would run as the service user.
    cache: Path
    log: Path | None = None

    @property
    def socket(self) -> Path:
        return self.runtime / SOCKET_NAME

    @property
    def config_file(self) -> Path:
        return self.config / "config.toml"


# broker_client/paths.py, which the daemon's protected mode also uses, is the one source of these paths.
LINUX_DIRS = SystemDirs(
    paths.LINUX_SYSTEM_STATE_DIR,
    paths.LINUX_SYSTEM_RUNTIME_DIR,
    paths.LINUX_SYSTEM_CONFIG_DIR,
    Path("/var/cache/etrade-mcp"),  # systemd's CacheDirectory=etrade-mcp
)
_MACOS_BASE = paths.MACOS_SYSTEM_RUNTIME_DIR.parent
MACOS_DIRS = SystemDirs(
    _MACOS_BASE / "state",
    paths.MACOS_SYSTEM_RUNTIME_DIR,
    _MACOS_BASE / "config",
    Path("/Library/Caches/etrade-mcp"),
    Path("/Library/Logs/etrade-mcp/daemon.log"),
)


def system_dirs(platform: Platform) -> SystemDirs:
    return LINUX_DIRS if platform == "linux" else MACOS_DIRS


def is_system_socket(socket: Path) -> bool:
    """Whether ``socket`` is a protected-mode daemon's (under a system runtime directory)."""
    return any(socket.absolute().is_relative_to(dirs.runtime) for dirs in (LINUX_DIRS, MACOS_DIRS))


DEFAULT_CONFIG = """\
# etrade-mcp, protected mode: the daemon's settings (see docs/configuration.md).
# Owned by root and not writable by the desktop user: only `sudo` can change what the daemon may do.
# After an edit: `sudo systemctl restart etrade-daemon` (Linux) or
# `sudo launchctl kickstart -k system/org.etrade-mcp.daemon` (macOS).

environment = "sandbox"   # "production" for the real account

# Orders are refused until you set this to false.
read_only = true

# The group whose members' programs may use the daemon (the socket's group; the daemon's user is in it).
clients_group = "{group}"
"""


# --- rendering --------------------------------------------------------------------------------


def render_system_unit(
    daemon: Path, *, user: str, group: str, code: Iterable[Path] = (), template_dir: Path | None = None
) -> str:
    """The system unit; ``code`` lists the other folders the daemon runs code from (its Python)."""
    if not daemon.is_absolute():
        raise ValueError(f"the unit needs an absolute path, got {daemon}")
    template = ((template_dir or shared_dir("systemd")) / SYSTEM_UNIT_TEMPLATE).read_text("utf-8")
    under_home = any(path.is_relative_to(home) for path in (daemon, *code) for home in HOME_ROOTS)
    return fill_template(
        template,
        {
            "EXEC_START": systemd_quote(str(daemon)),
            "USER": systemd_quote(user),
            "GROUP": systemd_quote(group),
            "PROTECT_HOME": "read-only" if under_home else "yes",
            "CACHE_DIRECTORY": systemd_quote(str(LINUX_DIRS.cache), command_line=False),
        },
    )


def render_system_plist(daemon: Path, *, user: str, group: str, template_dir: Path | None = None) -> bytes:
    if not daemon.is_absolute():
        raise ValueError("the plist needs absolute paths")
    dirs = MACOS_DIRS
    assert dirs.log is not None
    raw = ((template_dir or shared_dir("systemd")) / SYSTEM_PLIST_TEMPLATE).read_bytes()
    values = {
        "LABEL": LAUNCHD_LABEL,
        "DAEMON": str(daemon),
        "USER": user,
        "GROUP": group,
        "STATE_DIRECTORY": str(dirs.state),
        "RUNTIME_DIRECTORY": str(dirs.runtime),
        "CONFIGURATION_DIRECTORY": str(dirs.config),
        "CACHE_DIRECTORY": str(dirs.cache),
        "LOG_FILE": str(dirs.log),
    }
    fill_template(raw.decode("utf-8"), values)

    def fill(node: Any) -> Any:
        if isinstance(node, str):
            return fill_template_loose(node, values)
        if isinstance(node, list):
            return [fill(item) for item in node]
        if isinstance(node, dict):
            return {key: fill(value) for key, value in node.items()}
        return node

    return plistlib.dumps(fill(plistlib.loads(raw)), sort_keys=False)


def fill_template_loose(text: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    return text


# --- plans ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MakeDir:
    path: Path
    mode: int
    owner: str
    group: str
    exists: bool


@dataclass(frozen=True)
class RemoveTree:
    path: Path


SystemStep = EnsureGroup | EnsureUser | AddMember | MakeDir | Write | Remove | RemoveTree | Run


@dataclass
class SystemPlan:
    steps: list[SystemStep] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        for step in self.steps:
            if isinstance(step, (EnsureGroup, EnsureUser, MakeDir)) and not step.exists:
                return True
            if isinstance(step, AddMember) and not step.member:
                return True
            if isinstance(step, Write) and step.changed:
                return True
            if isinstance(step, (Remove, RemoveTree)) and step.path.exists():
                return True
        return False

    @property
    def commands(self) -> list[list[str]]:
        return [step.command for step in self.steps if isinstance(step, Run)]

    def describe(self) -> list[str]:
        return [line for step in self.steps for line in step_lines(step)]


def step_lines(step: SystemStep) -> list[str]:
    """What ``step`` does (or found done), as it is printed: one line, or a file's content below it."""
    lines: list[str] = []
    if isinstance(step, EnsureGroup):
        lines.append(f"group {step.name} exists" if step.exists else f"create group {step.name}")
    elif isinstance(step, EnsureUser):
        lines.append(
            f"user {step.name} exists"
            if step.exists
            else f"create system user {step.name} (group {step.group}, home {step.home}, no login shell)"
        )
    elif isinstance(step, AddMember):
        lines.append(
            f"{step.user} is in group {step.group}"
            if step.member
            else f"add {step.user} to group {step.group} (takes effect at their next login)"
        )
    elif isinstance(step, MakeDir):
        state = "exists:" if step.exists else "create (or fix the owner and mode of)"
        lines.append(f"{state} {step.path} ({step.owner}:{step.group} {step.mode:04o})")
    elif isinstance(step, Write) and step.changed:
        lines.append(f"write {step.path}:")
        lines.extend("    " + line for line in step.content.decode("utf-8").splitlines())
    elif isinstance(step, Write):
        lines.append(f"keep {step.path} (exists; left as it is)")
    elif isinstance(step, Remove):
        lines.append(f"remove {step.path}" if step.path.exists() else f"{step.path} is not there")
    elif isinstance(step, RemoveTree):
        lines.append(f"delete {step.path} and all in it" if step.path.exists() else f"{step.path} is not there")
    else:
        lines.append(f"run: {shlex.join(step.command)}")
    return lines


def _dir_in_place(path: Path, mode: int, owner: str, group: str) -> bool:
    try:
        info = path.stat()
        return (
            stat.S_ISDIR(info.st_mode)
            and stat.S_IMODE(info.st_mode) == mode
            and info.st_uid == pwd.getpwnam(owner).pw_uid
            and info.st_gid == grp.getgrnam(group).gr_gid
        )
    except (FileNotFoundError, KeyError):
        return False


def _relocated(root: Path, path: Path) -> Path:
    return root / path.relative_to("/")


@dataclass
class SystemInstall:
    """Everything ``service install --system`` needs to know, and the plans it makes."""

    platform: Platform
    daemon: Path
    user: str = SERVICE_USER
    group: str = CLIENTS_GROUP
    desktop_user: str | None = None
    root: Path = Path("/")

    @property
    def dirs(self) -> SystemDirs:
        return system_dirs(self.platform)

    @property
    def relocated(self) -> bool:
        return self.root != Path("/")

    def path(self, path: Path) -> Path:
        return _relocated(self.root, path)

    def service_path(self) -> Path:
        return self.path(SYSTEM_UNIT_PATH if self.platform == "linux" else LAUNCH_DAEMON_PATH)

    def render(self) -> bytes:
        if self.platform == "linux":
            code = code_roots(self.daemon)
            return render_system_unit(self.daemon, user=self.user, group=self.group, code=code).encode("utf-8")
        return render_system_plist(self.daemon, user=self.user, group=self.group)

    def _accounts(self) -> list[SystemStep]:
        steps: list[SystemStep] = [
            EnsureGroup(self.group, group_exists(self.group)),
            EnsureUser(self.user, self.group, self.dirs.state, user_exists(self.user)),
        ]
        if self.desktop_user and self.desktop_user != "root":
            steps.append(AddMember(self.desktop_user, self.group, is_member(self.desktop_user, self.group)))
        return steps

    def _dirs(self) -> list[SystemStep]:
        wanted = [(self.dirs.config, 0o755, "root", "root" if self.platform == "linux" else "wheel")]
        if self.platform == "macos":
            # launchd creates no directories: the state, the socket's and the log's are ours to make.
            wanted += [
                (self.dirs.state, 0o700, self.user, self.group),
                (self.dirs.runtime, 0o750, self.user, self.group),
                (self.dirs.cache, 0o700, self.user, self.group),
            ]
            if self.dirs.log is not None:
                wanted.append((self.dirs.log.parent, 0o750, self.user, self.group))
        return [
            MakeDir(self.path(path), mode, owner, group, _dir_in_place(self.path(path), mode, owner, group))
            for path, mode, owner, group in wanted
        ]

    def _service_commands(self, changed: bool) -> list[SystemStep]:
        if self.relocated:
            return []
        if self.platform == "linux":
            steps: list[SystemStep] = [Run(["systemctl", "daemon-reload"])] if changed else []
            steps.append(Run(["systemctl", "enable", UNIT_NAME]))
            steps.append(Run(["systemctl", "restart" if changed else "start", UNIT_NAME]))
            return steps
        target = f"system/{LAUNCHD_LABEL}"
        if not changed:
            return [Run(["launchctl", "enable", target]), Run(["launchctl", "kickstart", target])]
        return [
            Run(["launchctl", "bootout", target], tolerate_failure=True),
            Run(["launchctl", "enable", target]),
            Run(["launchctl", "bootstrap", "system", str(self.service_path())]),
        ]

    def install_plan(self) -> SystemPlan:
        content = self.render()
        service = self.service_path()
        try:
            changed = service.read_bytes() != content
        except FileNotFoundError:
            changed = True
        config = self.path(self.dirs.config_file)
        plan = SystemPlan(
            [
                *self._accounts(),
                *self._dirs(),
                Write(config, DEFAULT_CONFIG.format(group=self.group).encode("utf-8"), not config.exists()),
                Write(service, content, changed),
            ]
        )
        plan.steps += self._service_commands(changed)
        plan.warnings += unsafe_code(self.daemon)
        plan.notes += [f"the service will not start: {problem}" for problem in unreachable_code(self.daemon)]
        if self.relocated:
            plan.notes.append(f"files go under {self.root}; no service-manager command is run")
        return plan

    def uninstall_plan(self, *, purge: bool) -> SystemPlan:
        steps: list[SystemStep] = []
        if not self.relocated:
            if self.platform == "linux":
                steps.append(Run(["systemctl", "disable", "--now", UNIT_NAME], tolerate_failure=True))
            else:
                steps.append(Run(["launchctl", "bootout", f"system/{LAUNCHD_LABEL}"], tolerate_failure=True))
        steps.append(Remove(self.service_path()))
        if not self.relocated and self.platform == "linux":
            steps.append(Run(["systemctl", "daemon-reload"]))
        plan = SystemPlan(steps)
        if purge:
            plan.steps.append(RemoveTree(self.path(self.dirs.state)))
            plan.steps.append(RemoveTree(self.path(self.dirs.cache)))
            plan.notes.append(
                f"--purge: {self.dirs.state} (tokens, journal, audit log) and {self.dirs.cache} (bytecode) are deleted"
            )
        else:
            plan.notes.append(
                f"kept: {self.dirs.state} (tokens, journal, audit log), {self.dirs.config_file}, the user "
                f"{self.user} and the group {self.group}; --purge deletes the state too"
            )
        return plan


# --- the installed service: start, stop, status, logs ------------------------------------------


class SystemdSystem(Systemd):
    """The protected service under systemd's system manager (``systemctl`` without ``--user``)."""

    def service_path(self) -> Path:
        return SYSTEM_UNIT_PATH

    def control_command(self, action: Literal["start", "stop", "restart"]) -> list[str]:
        return ["systemctl", action, UNIT_NAME]

    def status_command(self) -> list[str]:
        return [part for part in super().status_command() if part != "--user"]

    def parse_status(self, output: str) -> dict[str, str]:
        return {**super().parse_status(output), "manager": "systemd (system: protected mode)"}

    def logs_command(self, lines: int, follow: bool) -> list[str]:
        return [part for part in super().logs_command(lines, follow) if part != "--user"]

    def after_install_notes(self) -> list[str]:
        return []


class LaunchdSystem(Launchd):
    """The protected service as a LaunchDaemon (the ``system`` domain)."""

    @property
    def target(self) -> str:
        return f"system/{LAUNCHD_LABEL}"

    def service_path(self) -> Path:
        return LAUNCH_DAEMON_PATH

    def log_file(self) -> Path:
        assert MACOS_DIRS.log is not None
        return MACOS_DIRS.log

    def parse_status(self, output: str) -> dict[str, str]:
        return {**super().parse_status(output), "manager": "launchd (daemon: protected mode)"}


def system_manager_for(platform: Platform, *, environ: dict[str, str] | None = None) -> Manager:
    return SystemdSystem(environ=environ) if platform == "linux" else LaunchdSystem(environ=environ)


# --- acting -----------------------------------------------------------------------------------


def execute_system(plan: SystemPlan, install: SystemInstall, *, environ: dict[str, str]) -> list[str]:
    """Carry out ``plan``; returns what was done (or found done), one line each."""
    done: list[str] = []
    for step in plan.steps:
        if isinstance(step, (EnsureGroup, EnsureUser, AddMember)):
            present = step.member if isinstance(step, AddMember) else step.exists
            if present:
                done.append(step_lines(step)[0])
                continue
            for command in account_commands(step, install.platform):
                check(run(command, environ=environ), command)
            done.append(f"done: {step_lines(step)[0]}")
        elif isinstance(step, MakeDir):
            if step.exists:
                done.append(f"{step.path} is in place")
                continue
            step.path.mkdir(parents=True, exist_ok=True)
            os.chown(step.path, pwd.getpwnam(step.owner).pw_uid, grp.getgrnam(step.group).gr_gid)
            os.chmod(step.path, step.mode)
            done.append(f"made {step.path} ({step.owner}:{step.group} {step.mode:04o})")
        elif isinstance(step, Write):
            if not step.changed:
                done.append(f"{step.path} is up to date")
                continue
            write_atomically(step.path, step.content)  # 0644, owned by root (we run as root)
            done.append(f"wrote {step.path}")
        elif isinstance(step, Remove):
            try:
                step.path.unlink()
                done.append(f"removed {step.path}")
            except FileNotFoundError:
                done.append(f"{step.path} was not there")
        elif isinstance(step, RemoveTree):
            if step.path.exists():
                shutil.rmtree(step.path)
                done.append(f"deleted {step.path}")
            else:
                done.append(f"{step.path} was not there")
        else:
            result = run(step.command, environ=environ)
            if not step.tolerate_failure:
                _check_system(result, step.command, done)
            done.append(f"ran: {shlex.join(step.command)}")
    return done


def _check_system(result: subprocess.CompletedProcess[str], command: list[str], done: list[str]) -> None:
    """``check``, with the system manager's own failure explained (the user-unit hint does not apply)."""
    output = f"{result.stderr}\n{result.stdout}"
    if result.returncode != 0 and ("not been booted with systemd" in output or "Failed to connect to bus" in output):
        raise DaemonUnavailable(
            ErrorCode.SERVICE_MANAGER_UNAVAILABLE,
            f"systemd is not running on this machine, so `{shlex.join(command)}` failed; done before it: "
            + "; ".join(done),
            hint="on a machine without systemd, run `etrade-daemon --system` as the service user under your own "
            "supervisor, with STATE_DIRECTORY, RUNTIME_DIRECTORY and CONFIGURATION_DIRECTORY set",
        )
    check(result, command)


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise InvalidRequest(
            ErrorCode.INVALID_ARGUMENT,
            f"{what} needs root: it creates a system user and writes a system service",
            hint="run it with sudo: `sudo etradectl service install --system` (or add --dry-run to see the plan)",
        )
