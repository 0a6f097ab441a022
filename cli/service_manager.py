"""Run etrade-daemon under the platform's service manager: a systemd user unit or a launchd agent.

Rendering is pure (templates from ``systemd/`` with absolute paths filled in); acting is a list
of ``systemctl --user`` / ``launchctl`` command lines, so ``--dry-run`` can print exactly what
would be written and run. Installing is idempotent: an unchanged unit is not rewritten and the
service is only (re)started when needed.
"""

from __future__ import annotations

import os
import plistlib
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from broker_client import paths
from broker_client.errors import DaemonUnavailable, ErrorCode, InvalidRequest, NotFound
from cli.installation import DAEMON, find_executable, shared_dir

Platform = Literal["linux", "macos"]
PLATFORMS: tuple[Platform, ...] = ("linux", "macos")

UNIT_NAME = "etrade-daemon.service"
UNIT_TEMPLATE = "etrade-daemon.service.in"
LAUNCHD_LABEL = "org.etrade-mcp.daemon"
PLIST_TEMPLATE = "etrade-daemon.plist.in"

LINGER_NOTE = (
    "systemd stops your user services when your last session ends. On a headless machine (a server "
    "you reach over ssh) keep the daemon running without a login session: "
    "`sudo loginctl enable-linger {user}` (once; undo with `disable-linger`)."
)

Command = list[str]


def current_platform() -> Platform:
    name: str = sys.platform  # a plain str, so mypy checks every branch on any host
    if name.startswith("linux"):
        return "linux"
    if name == "darwin":
        return "macos"
    raise InvalidRequest(
        ErrorCode.INVALID_ARGUMENT,
        f"etradectl can install the daemon as a service on Linux (systemd) and macOS (launchd), not on {name}",
        hint="run `etrade-daemon` in the foreground or under your own supervisor",
    )


# --- rendering --------------------------------------------------------------------------------


def systemd_quote(word: str, *, command_line: bool = True) -> str:
    """One word of a unit setting, taken literally: specifiers (%) escaped everywhere, and ``$``
    on command lines (ExecStart= expands variables; Environment= does not)."""
    escaped = word.replace("%", "%%")
    if command_line:
        escaped = escaped.replace("$", "$$")
    if escaped and not any(c.isspace() or c in "\"'\\;" for c in escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


_PLACEHOLDER = re.compile(r"@([A-Z_]+)@")


def fill_template(text: str, values: dict[str, str]) -> str:
    """Replace each ``@NAME@`` with ``values["NAME"]`` (autoconf-style ``.in`` templates).

    Every placeholder must have a value and every value a placeholder, so a template and its
    renderer cannot drift apart silently.
    """
    found = set(_PLACEHOLDER.findall(text))
    if found != set(values):
        raise ValueError(f"template placeholders {sorted(found)} do not match the values {sorted(values)}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def render_unit(daemon: Path, *, environment: dict[str, str] | None = None, template_dir: Path | None = None) -> str:
    """The systemd user unit for ``daemon`` (an absolute path), with extra environment variables."""
    if not daemon.is_absolute():
        raise ValueError(f"the unit needs an absolute path, got {daemon}")
    template = ((template_dir or shared_dir("systemd")) / UNIT_TEMPLATE).read_text("utf-8")
    lines = "".join(
        f"Environment={systemd_quote(f'{name}={value}', command_line=False)}\n"
        for name, value in sorted((environment or {}).items())
    )
    return fill_template(template, {"EXEC_START": systemd_quote(str(daemon)), "ENVIRONMENT": lines})


def render_plist(
    daemon: Path, log_file: Path, *, environment: dict[str, str] | None = None, template_dir: Path | None = None
) -> bytes:
    """The launchd agent plist for ``daemon``; built with plistlib, so any path is escaped correctly."""
    if not daemon.is_absolute() or not log_file.is_absolute():
        raise ValueError("the plist needs absolute paths")
    raw = ((template_dir or shared_dir("systemd")) / PLIST_TEMPLATE).read_bytes()
    values = {"LABEL": LAUNCHD_LABEL, "DAEMON": str(daemon), "LOG_FILE": str(log_file)}
    fill_template(raw.decode("utf-8"), values)  # checks that the placeholders match

    def fill(node: Any) -> Any:
        if isinstance(node, str):
            # Filled inside the parsed document: plistlib escapes the values when it writes.
            return _PLACEHOLDER.sub(lambda match: values[match.group(1)], node)
        if isinstance(node, list):
            return [fill(item) for item in node]
        if isinstance(node, dict):
            return {key: fill(value) for key, value in node.items()}
        return node

    document = fill(plistlib.loads(raw))
    document["EnvironmentVariables"].update(environment or {})
    return plistlib.dumps(document, sort_keys=False)


# --- plans ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    path: Path
    content: bytes
    changed: bool


@dataclass(frozen=True)
class Remove:
    path: Path


@dataclass(frozen=True)
class Run:
    command: Command
    # The command undoes something that may not be there (disable, bootout): its failure is fine.
    tolerate_failure: bool = False


Step = Write | Remove | Run


@dataclass
class Plan:
    """What a service command will do, in order: write or remove the file, run commands."""

    steps: list[Step] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(isinstance(step, Write) and step.changed for step in self.steps)

    @property
    def commands(self) -> list[Command]:
        return [step.command for step in self.steps if isinstance(step, Run)]

    def describe(self) -> list[str]:
        lines = []
        for step in self.steps:
            if isinstance(step, Write) and step.changed:
                lines.append(f"write {step.path}:")
                lines.extend("    " + line for line in step.content.decode("utf-8").splitlines())
            elif isinstance(step, Write):
                lines.append(f"keep {step.path} (unchanged)")
            elif isinstance(step, Remove):
                lines.append(f"remove {step.path}")
            else:
                lines.append(f"run: {shlex.join(step.command)}")
        return lines


class Manager:
    """The platform's service manager. Subclasses say where the file goes and which commands to run."""

    platform: Platform
    tool: str
    restarts_on_change: bool = True

    def __init__(self, *, environ: dict[str, str] | None = None) -> None:
        self.environ = dict(os.environ if environ is None else environ)

    @property
    def home(self) -> Path:
        return Path(self.environ.get("HOME") or Path.home())

    def service_path(self) -> Path:
        raise NotImplementedError

    def render(self, daemon: Path) -> bytes:
        raise NotImplementedError

    def socket_environment(self) -> dict[str, str]:
        """ETRADE_MCP_SOCKET for the daemon when the operator uses a non-default socket."""
        custom = self.environ.get(paths.SOCKET_ENV)
        return {paths.SOCKET_ENV: custom} if custom else {}

    def installed(self) -> bool:
        return self.service_path().is_file()

    def install_plan(self, daemon: Path) -> Plan:
        content = self.render(daemon)
        path = self.service_path()
        try:
            changed = path.read_bytes() != content
        except FileNotFoundError:
            changed = True
        return Plan([Write(path, content, changed), *self.install_commands(changed)])

    def uninstall_plan(self) -> Plan:
        raise NotImplementedError

    def install_commands(self, changed: bool) -> list[Run]:
        raise NotImplementedError

    def control_command(self, action: Literal["start", "stop", "restart"]) -> Command:
        raise NotImplementedError

    def status_command(self) -> Command:
        raise NotImplementedError

    def parse_status(self, output: str) -> dict[str, str]:
        raise NotImplementedError

    def logs_command(self, lines: int, follow: bool) -> Command:
        raise NotImplementedError

    def after_install_notes(self) -> list[str]:
        return []


class Systemd(Manager):
    platform: Platform = "linux"
    tool = "systemctl"

    def service_path(self) -> Path:
        config = self.environ.get("XDG_CONFIG_HOME")
        return (Path(config) if config else self.home / ".config") / "systemd" / "user" / UNIT_NAME

    def render(self, daemon: Path) -> bytes:
        return render_unit(daemon, environment=self.socket_environment()).encode("utf-8")

    def install_commands(self, changed: bool) -> list[Run]:
        steps = [Run(["systemctl", "--user", "daemon-reload"])] if changed else []
        steps.append(Run(["systemctl", "--user", "enable", UNIT_NAME]))
        # restart applies a changed unit to a running daemon; start is a no-op when it runs.
        steps.append(Run(["systemctl", "--user", "restart" if changed else "start", UNIT_NAME]))
        return steps

    def uninstall_plan(self) -> Plan:
        return Plan(
            [
                Run(["systemctl", "--user", "disable", "--now", UNIT_NAME], tolerate_failure=True),
                Remove(self.service_path()),
                Run(["systemctl", "--user", "daemon-reload"]),
            ]
        )

    def control_command(self, action: Literal["start", "stop", "restart"]) -> Command:
        return ["systemctl", "--user", action, UNIT_NAME]

    def status_command(self) -> Command:
        properties = "LoadState,ActiveState,SubState,UnitFileState,MainPID,NRestarts,Result,ExecMainStartTimestamp"
        return ["systemctl", "--user", "show", UNIT_NAME, f"--property={properties}"]

    def parse_status(self, output: str) -> dict[str, str]:
        fields = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
        return {
            "manager": "systemd (user)",
            "unit": str(self.service_path()),
            "state": f"{fields.get('ActiveState', '?')} ({fields.get('SubState', '?')})",
            "enabled": fields.get("UnitFileState", "?"),
            "pid": fields.get("MainPID", "0"),
            "restarts": fields.get("NRestarts", "0"),
            "last result": fields.get("Result", "?"),
            "running": "yes" if fields.get("ActiveState") == "active" else "no",
        }

    def logs_command(self, lines: int, follow: bool) -> Command:
        command = ["journalctl", "--user", "--unit", UNIT_NAME, "--lines", str(lines), "--no-pager"]
        return [*command, "--follow"] if follow else command

    def after_install_notes(self) -> list[str]:
        user = self.environ.get("USER") or self.home.name
        try:
            linger = subprocess.run(
                ["loginctl", "show-user", user, "--property=Linger", "--value"],
                capture_output=True,
                text=True,
                timeout=10,
                env=self.environ,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            linger = ""
        return [] if linger == "yes" else [LINGER_NOTE.format(user=user)]


class Launchd(Manager):
    platform: Platform = "macos"
    tool = "launchctl"

    @property
    def target(self) -> str:
        return f"gui/{os.getuid()}/{LAUNCHD_LABEL}"

    def service_path(self) -> Path:
        return self.home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"

    def log_file(self) -> Path:
        return self.home / "Library" / "Logs" / "etrade-mcp" / "daemon.log"

    def render(self, daemon: Path) -> bytes:
        return render_plist(daemon, self.log_file(), environment=self.socket_environment())

    def install_commands(self, changed: bool) -> list[Run]:
        if not changed:
            # Loaded already: kickstart without -k starts it only if it is not running.
            return [Run(["launchctl", "enable", self.target]), Run(["launchctl", "kickstart", self.target])]
        return [
            # Unload the old definition; this fails harmlessly when the agent is not loaded.
            Run(["launchctl", "bootout", self.target], tolerate_failure=True),
            Run(["launchctl", "enable", self.target]),
            Run(["launchctl", "bootstrap", f"gui/{os.getuid()}", str(self.service_path())]),
        ]

    def uninstall_plan(self) -> Plan:
        return Plan([Run(["launchctl", "bootout", self.target], tolerate_failure=True), Remove(self.service_path())])

    def control_command(self, action: Literal["start", "stop", "restart"]) -> Command:
        if action == "start":
            return ["launchctl", "kickstart", self.target]
        if action == "restart":
            return ["launchctl", "kickstart", "-k", self.target]
        # SIGTERM: the daemon exits 0, and KeepAlive (SuccessfulExit=false) leaves it stopped.
        return ["launchctl", "kill", "SIGTERM", self.target]

    def status_command(self) -> Command:
        return ["launchctl", "print", self.target]

    def parse_status(self, output: str) -> dict[str, str]:
        fields: dict[str, str] = {}
        for line in output.splitlines():
            key, sep, value = line.strip().partition(" = ")
            if sep and key not in fields:
                fields[key] = value
        return {
            "manager": "launchd (agent)",
            "plist": str(self.service_path()),
            "state": fields.get("state", "?"),
            "pid": fields.get("pid", "0"),
            "last exit": fields.get("last exit code", "?"),
            "log": str(self.log_file()),
            "running": "yes" if fields.get("state") == "running" else "no",
        }

    def logs_command(self, lines: int, follow: bool) -> Command:
        command = ["tail", "-n", str(lines)]
        return [*command, "-F", str(self.log_file())] if follow else [*command, str(self.log_file())]


def manager_for(platform: Platform, *, environ: dict[str, str] | None = None) -> Manager:
    return Systemd(environ=environ) if platform == "linux" else Launchd(environ=environ)


# --- acting -----------------------------------------------------------------------------------


def run(command: Sequence[str], *, environ: dict[str, str], capture: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a service-manager command; a missing tool is SERVICE_MANAGER_UNAVAILABLE."""
    try:
        return subprocess.run(list(command), capture_output=capture, text=True, env=environ, timeout=120)
    except FileNotFoundError:
        raise DaemonUnavailable(
            ErrorCode.SERVICE_MANAGER_UNAVAILABLE, f"{command[0]} is not installed or not on PATH"
        ) from None


def check(result: subprocess.CompletedProcess[str], command: Sequence[str]) -> None:
    if result.returncode == 0:
        return
    detail = (result.stderr or result.stdout or "").strip().splitlines()
    reason = detail[-1] if detail else f"exit status {result.returncode}"
    if "Failed to connect to bus" in reason or "No medium found" in reason:
        raise DaemonUnavailable(
            ErrorCode.SERVICE_MANAGER_UNAVAILABLE,
            f"no systemd user manager is reachable ({reason})",
            hint="log in on the machine (or `sudo loginctl enable-linger $USER` and log in again), check that "
            "XDG_RUNTIME_DIR=/run/user/$(id -u) is set; in a container or WSL without systemd run "
            "`etrade-daemon` in the foreground instead",
        )
    raise DaemonUnavailable(ErrorCode.SERVICE_COMMAND_FAILED, f"`{shlex.join(command)}` failed: {reason}")


def write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def execute(plan: Plan, manager: Manager) -> list[str]:
    """Carry out ``plan`` step by step; returns what was done, one line each."""
    done: list[str] = []
    for step in plan.steps:
        if isinstance(step, Write):
            if not step.changed:
                done.append(f"{step.path} is up to date")
                continue
            if isinstance(manager, Launchd):
                # launchd does not create the directory of StandardErrorPath.
                manager.log_file().parent.mkdir(parents=True, exist_ok=True)
            write_atomically(step.path, step.content)
            done.append(f"wrote {step.path}")
        elif isinstance(step, Remove):
            try:
                step.path.unlink()
                done.append(f"removed {step.path}")
            except FileNotFoundError:
                done.append(f"{step.path} was not there")
        else:
            result = run(step.command, environ=manager.environ)
            if not step.tolerate_failure:
                check(result, step.command)
            done.append(f"ran: {shlex.join(step.command)}")
    return done


def require_installed(manager: Manager) -> None:
    if not manager.installed():
        raise NotFound(
            ErrorCode.SERVICE_NOT_INSTALLED, f"the etrade-daemon service is not installed ({manager.service_path()})"
        )


def daemon_executable() -> Path:
    return find_executable(DAEMON)
