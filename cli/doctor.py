"""``etradectl doctor``: the checks behind it, each a plain function returning a :class:`Check`.

Each check looks at one thing users trip on and, when it is wrong, says how to fix it. They run
in order, and later checks use what earlier ones learnt (the settings, the daemon's status). The
overall exit status is that of the first failed check, from the documented table in
``cli/exit_codes.py``: 3 daemon/socket, 4 credentials/session/keyring, 5 a bad file, 6 the clock
(E*TRADE would refuse us), 8 versions.
"""

from __future__ import annotations

import email.utils
import os
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from broker_client import paths
from cli import exit_codes

if TYPE_CHECKING:
    from broker_client.client import BrokerClient
    from daemon.settings import Settings
    from protos.broker.v1 import session_pb2

Status = Literal["ok", "warn", "fail", "skip"]

# E*TRADE refuses OAuth timestamps more than five minutes from its clock (oauth_problem=timestamp_refused).
SKEW_REFUSED = 300.0
SKEW_WARN = 60.0


@dataclass
class Check:
    name: str
    status: Status
    summary: str
    fix: str | None = None
    exit_code: int = exit_codes.OK

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document.pop("exit_code")
        return document


def ok(name: str, summary: str) -> Check:
    return Check(name, "ok", summary)


def warn(name: str, summary: str, fix: str | None = None) -> Check:
    return Check(name, "warn", summary, fix)


def fail(name: str, summary: str, fix: str, exit_code: int) -> Check:
    return Check(name, "fail", summary, fix, exit_code)


def skip(name: str, summary: str) -> Check:
    return Check(name, "skip", summary)


@dataclass
class Findings:
    """What the checks learnt, for the checks after them."""

    environ: Mapping[str, str]
    socket: Path
    settings: Settings | None = None
    status: session_pb2.GetStatusResponse | None = None
    checks: list[Check] = field(default_factory=list)


# --- configuration ----------------------------------------------------------------------------


def check_config(found: Findings, config_path: Path | None = None) -> Check:
    from broker_client.errors import BrokerError
    from daemon.settings import load_settings

    path = config_path or paths.config_file(found.environ.get(paths.CONFIG_ENV))
    if config_path is None and mode_of(found.socket) == "protected":
        from cli.system_service import LINUX_DIRS, MACOS_DIRS

        path = next(d.config_file for d in (LINUX_DIRS, MACOS_DIRS) if found.socket.is_relative_to(d.runtime))
        problem = config_not_roots(path)
        if problem is not None:
            return fail(
                "config",
                f"{problem}: someone other than root can change what the protected daemon may do",
                f"`sudo chown root:root {path.parent} {path} && sudo chmod 0755 {path.parent} && sudo chmod 0644 {path}`",
                exit_codes.INVALID,
            )
    try:
        found.settings = load_settings(environ=found.environ, config_path=path)
    except BrokerError as exc:
        return fail("config", exc.message, f"edit {path} (see docs/configuration.md)", exit_codes.INVALID)
    where = f"{path}" if path.exists() else f"{path} (absent: defaults and ETRADE_* variables)"
    settings = found.settings
    mode = "read-only" if settings.read_only else "trading enabled"
    return ok("config", f"{where}; it says environment {settings.environment}, {mode}")


def config_not_roots(path: Path) -> str | None:
    """Why the protected daemon's config file (or its folder) is not root's alone; None when it is."""
    for item in (path.parent, path):
        try:
            info = item.stat()
        except FileNotFoundError:
            continue
        except PermissionError:
            return f"{item} cannot be read"
        if info.st_uid != 0:
            return f"{item} belongs to uid {info.st_uid}"
        if stat.S_IMODE(info.st_mode) & 0o022:
            return f"{item} is mode {stat.S_IMODE(info.st_mode):04o} (writable by its group or everyone)"
    return None


# --- the socket and its directory -------------------------------------------------------------


def check_socket_permissions(found: Findings) -> Check:
    socket = found.socket
    directory = socket.parent
    if len(str(socket)) > paths.MAX_SOCKET_PATH:
        return fail(
            "socket",
            f"the socket path {socket} is {len(str(socket))} bytes; unix sockets allow about {paths.MAX_SOCKET_PATH}",
            f"choose a shorter path with --socket or {paths.SOCKET_ENV}",
            exit_codes.DAEMON_UNAVAILABLE,
        )
    if mode_of(socket) == "protected":
        return _check_system_socket(socket)
    try:
        info = directory.stat()
    except FileNotFoundError:
        return skip("socket", f"{directory} does not exist yet (the daemon creates it, mode 0700)")
    problems = []
    if info.st_uid != os.getuid():
        problems.append(
            (
                f"{directory} belongs to uid {info.st_uid}, not to you",
                f"use your own socket: --socket or {paths.SOCKET_ENV}",
            )
        )
    elif stat.S_IMODE(info.st_mode) & 0o077:
        problems.append(
            (
                f"{directory} is mode {stat.S_IMODE(info.st_mode):04o}: other users can enter it",
                f"chmod 700 {directory}",
            )
        )
    try:
        sock = socket.lstat()
    except FileNotFoundError:
        sock = None
    if sock is not None:
        if not stat.S_ISSOCK(sock.st_mode):
            problems.append((f"{socket} is not a socket", f"remove it (rm {socket}) and start the daemon"))
        elif sock.st_uid != os.getuid():
            problems.append(
                (f"{socket} belongs to uid {sock.st_uid}, not to you", "run etradectl as the daemon's user")
            )
        elif stat.S_IMODE(sock.st_mode) & 0o077:
            problems.append(
                (f"{socket} is mode {stat.S_IMODE(sock.st_mode):04o}: other users can connect", f"chmod 600 {socket}")
            )
    if problems:
        summary = "; ".join(p for p, _ in problems)
        return fail("socket", summary, "; ".join(f for _, f in problems), exit_codes.DAEMON_UNAVAILABLE)
    state = "socket 0600" if sock is not None else "no socket yet"
    return ok("socket", f"{directory} is yours and 0700; {state}")


def _check_system_socket(socket: Path) -> Check:
    """Protected mode: the directory is the service user's, open to the clients' group only, and you are in it."""
    import grp

    directory = socket.parent
    try:
        info = directory.stat()
    except FileNotFoundError:
        return skip("socket", f"{directory} does not exist (the protected service creates it when it starts)")
    except PermissionError:
        return fail(
            "socket",
            f"you cannot enter {directory}: you are not in its group",
            "join the clients' group: `sudo usermod -aG etrade-mcp $USER`, then log out and in again",
            exit_codes.DAEMON_UNAVAILABLE,
        )
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    if stat.S_IMODE(info.st_mode) & 0o007:
        return fail(
            "socket",
            f"{directory} is mode {stat.S_IMODE(info.st_mode):04o}: users outside the group {group} can reach the daemon",
            "reinstall the service: `sudo etradectl service install --system` (RuntimeDirectoryMode=0750)",
            exit_codes.DAEMON_UNAVAILABLE,
        )
    if os.getuid() != 0 and info.st_gid not in os.getgroups():
        return fail(
            "socket",
            f"you are not in the group {group} that may use {socket}",
            f"`sudo usermod -aG {group} $USER`, then log out and in again",
            exit_codes.DAEMON_UNAVAILABLE,
        )
    return ok(
        "socket", f"{directory} is the service's, open to the group {group} (mode {stat.S_IMODE(info.st_mode):04o})"
    )


# --- the daemon -------------------------------------------------------------------------------


def _start_fix(found: Findings) -> str:
    from cli.service_manager import current_platform, manager_for

    if mode_of(found.socket) == "protected":
        return (
            "start the protected service: `sudo etradectl service start --system` (its log: "
            "`sudo etradectl service logs --system`), or install it: `sudo etradectl service install --system`"
        )

    try:
        manager = manager_for(current_platform(), environ=dict(found.environ))
    except Exception:  # an unsupported platform: only the foreground daemon remains
        return "start it: `etrade-daemon`"
    if manager.installed():
        return "start the service: `etradectl service start` (and read `etradectl service logs`)"
    return "start it: `etradectl service install` (a background service), or `etrade-daemon` in a terminal"


async def check_daemon(found: Findings, client: BrokerClient) -> Check:
    from broker_client.errors import BrokerError, DaemonUnavailable, VersionMismatch

    try:
        found.status = await client.get_status(timeout=5)
    except VersionMismatch as exc:
        return fail("daemon", exc.message, exc.hint, exit_codes.VERSION)
    except DaemonUnavailable as exc:
        return fail("daemon", exc.message, _start_fix(found), exit_codes.DAEMON_UNAVAILABLE)
    status = found.status
    try:
        health = await client.health(timeout=5)
    except BrokerError as exc:  # a daemon without the health service still answers GetStatus
        health = f"unknown: {exc.code.value}"
    # The config row shows what the file and variables say; the daemon may run with flags instead.
    return ok(
        "daemon",
        f"etrade-daemon {status.daemon_version} answers on {client.socket_path} "
        f"(pid {status.pid or '?'}, {status.executable or 'executable unknown'}, health {health}); "
        f"it runs environment {status.environment or '?'}",
    )


def check_versions(found: Findings, client_version: str) -> Check:
    from broker_client import api_version
    from protos.broker.v1 import API_VERSION

    if found.status is None:
        return skip("versions", f"etradectl {client_version} speaks API {API_VERSION}; the daemon did not answer")
    theirs = found.status.api_version
    compatibility = api_version.compare(API_VERSION, theirs)
    summary = (
        f"etradectl {client_version} (API {API_VERSION}), etrade-daemon {found.status.daemon_version} (API {theirs})"
    )
    if compatibility is api_version.Compatibility.SAME:
        return ok("versions", summary)
    if compatibility is api_version.Compatibility.MINOR_DIFFERS:
        return warn("versions", summary, api_version.minor_warning(API_VERSION, theirs))
    return fail("versions", summary, api_version.mismatch_error(API_VERSION, theirs).hint, exit_codes.VERSION)


# --- secrets ----------------------------------------------------------------------------------


def check_secret_store(found: Findings) -> Check:
    from broker_client.errors import ErrorCode
    from daemon.secret_store import keyring_problem

    settings = found.settings
    if mode_of(found.socket) == "protected":
        return skip("keyring", "protected mode: the secrets are the service user's, in a 0600 file you cannot read")
    if settings is None:
        return skip("keyring", "the configuration could not be read")
    # The daemon's environment wins over ours: it may have been started with --environment.
    environment = found.status.environment if found.status is not None else settings.environment
    if environment == "emulator" or settings.secret_store == "file":
        path = settings.resolved_state_dir() / "secrets.json"
        why = "the emulator's worthless tokens" if environment == "emulator" else "the opt-in file store"
        try:
            info = path.stat()
        except FileNotFoundError:
            return ok("keyring", f"{why}: {path} (not written yet)")
        if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
            return fail(
                "keyring",
                f"{path} is mode {stat.S_IMODE(info.st_mode):04o}: other users can read your E*TRADE tokens",
                f"chmod 600 {path}",
                exit_codes.SESSION,
            )
        note = "" if environment == "emulator" else " (less safe than an OS keyring)"
        return ok("keyring", f"{why}: {path}, 0600{note}")
    if settings.secret_store == "memory":
        return warn("keyring", "secrets in memory only: every daemon restart needs a new login")
    problem = keyring_problem()
    if problem is not None:
        return fail("keyring", problem, ErrorCode.SECRET_STORE_UNAVAILABLE.hint, exit_codes.SESSION)
    import keyring

    backend = keyring.get_keyring()
    return ok("keyring", f"OS keyring: {type(backend).__module__}.{type(backend).__name__}")


# --- the E*TRADE session ----------------------------------------------------------------------


def check_credentials(found: Findings) -> Check:
    from protos.broker.v1 import session_pb2

    if found.status is None:
        return skip("credentials", "the daemon did not answer")
    session = found.status.session
    if session.state == session_pb2.SESSION_STATE_NO_CREDENTIALS:
        return fail(
            "credentials", session.detail, f"run `{session.fix_command or 'etradectl auth setup'}`", exit_codes.SESSION
        )
    return ok("credentials", f"consumer key and secret present ({found.status.environment})")


async def check_session(found: Findings, client: BrokerClient, *, offline: bool) -> Check:
    from broker_client.errors import BrokerError, SessionError
    from protos.broker.v1 import session_pb2

    if found.status is None:
        return skip("session", "the daemon did not answer")
    session = found.status.session
    state = session_pb2.SessionState.Name(session.state).removeprefix("SESSION_STATE_")
    if session.state == session_pb2.SESSION_STATE_NO_CREDENTIALS:
        return skip("session", "no credentials (see above)")
    if session.state != session_pb2.SESSION_STATE_ACTIVE:
        return fail("session", f"{state}: {session.detail}", f"run `{session.fix_command}`", exit_codes.SESSION)
    ends = f"ends {session.expires_at_et} ET" if session.expires_at_et else "active"
    if offline:
        return ok("session", f"ACTIVE, {ends} (not verified: --offline)")
    try:
        await client.list_accounts(fresh=True)  # a cached answer would prove nothing
    except SessionError as exc:
        return fail("session", f"E*TRADE refused the session: {exc.message}", exc.hint, exit_codes.SESSION)
    except BrokerError as exc:
        return warn("session", f"ACTIVE, but E*TRADE did not answer a test request: {exc.message}", exc.hint)
    return ok("session", f"ACTIVE, {ends}; E*TRADE accepted a request")


# --- the clock --------------------------------------------------------------------------------


def upstream_clock_offset(base_url: str, *, timeout: float = 5.0) -> float:
    """Seconds our clock is ahead (+) or behind (-) the server's, from its HTTP ``Date`` header.

    ``Date`` has one-second resolution; the request's midpoint is compared with it.
    """
    request = urllib.request.Request(base_url.rstrip("/") + "/", method="HEAD")
    before = time.time()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            date = response.headers.get("Date")
    except urllib.error.HTTPError as exc:  # any answer carries Date; a 404 is fine
        date = exc.headers.get("Date")
    after = time.time()
    if not date:
        raise ValueError(f"{base_url} sent no Date header")
    server = email.utils.parsedate_to_datetime(date).timestamp()
    return (before + after) / 2 - server


def check_clock(found: Findings, *, offline: bool) -> Check:
    if offline:
        return skip("clock", "not checked (--offline)")
    base_url = found.status.upstream_base_url if found.status is not None else None
    if base_url is None and found.settings is not None:
        from daemon.settings import PRODUCTION_API, SANDBOX_API

        settings = found.settings
        base_url = {"production": PRODUCTION_API, "sandbox": SANDBOX_API}.get(
            settings.environment
        ) or settings.emulator_url
    if not base_url:
        return skip("clock", "no E*TRADE address to compare with (start the daemon)")
    try:
        offset = upstream_clock_offset(base_url)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return warn("clock", f"could not ask {base_url} for its time ({reason})", "check your network connection")
    ahead = "ahead of" if offset > 0 else "behind"
    summary = f"this machine is {abs(offset):.0f} s {ahead} {base_url}"
    sync = "sync the clock: `timedatectl set-ntp true` (Linux) or System Settings > General > Date & Time > Set automatically (macOS)"
    if abs(offset) >= SKEW_REFUSED:
        return fail(
            "clock", f"{summary}; E*TRADE refuses OAuth requests more than 5 minutes off", sync, exit_codes.UPSTREAM
        )
    if abs(offset) >= SKEW_WARN:
        return warn("clock", f"{summary}; E*TRADE refuses requests at 5 minutes", sync)
    return ok("clock", summary)


# --- the mode: single-user or protected ----------------------------------------------------

# Clients whose model can run commands or edit files as the user: in single-user mode such a model
# can approve its own orders (etradectl runs as the same user as the daemon).
SHELL_CAPABLE_CLIENTS = ("claude-code", "cursor")
PROTECT_COMMAND = "sudo etradectl service install --system"


def mode_of(socket: Path) -> Literal["single-user", "protected"]:
    """The mode of the daemon behind ``socket``: a system runtime directory's socket is protected mode's."""
    from cli.system_service import is_system_socket

    return "protected" if is_system_socket(socket) else "single-user"


def check_mode(found: Findings) -> Check:
    from cli.mcp_clients import find_configured
    from cli.system_service import LINUX_DIRS, MACOS_DIRS

    if mode_of(found.socket) == "protected":
        return ok(
            "mode",
            f"protected: the daemon on {found.socket} runs as its own user; approving orders, logging in and "
            "resuming need sudo",
        )
    configured, _ = find_configured(environ=found.environ)
    shells = sorted({entry.client for entry in configured if entry.client in SHELL_CAPABLE_CLIENTS})
    system = next((dirs.socket for dirs in (LINUX_DIRS, MACOS_DIRS) if dirs.socket.exists()), None)
    also = f"; a protected daemon answers on {system}: use it with --socket {system}" if system else ""
    if shells:
        return warn(
            "mode",
            f"single-user, and {', '.join(shells)} can run commands as you: its model can approve its own orders "
            f"(etradectl runs as you, like the daemon){also}",
            f"move to protected mode: `{PROTECT_COMMAND}` (README: Protected mode)",
        )
    return ok(
        "mode",
        "single-user: protects against a model that only has etrade-mcp's tools, not against programs running "
        f"as you (protected mode: `{PROTECT_COMMAND}`){also}",
    )


SUDO_FIX = (
    "sudo must ask for your password every time it matters: remove NOPASSWD rules that cover you (`sudo -l` lists "
    "them; edit with `sudo visudo` and files in /etc/sudoers.d), keep `Defaults timestamp_type=tty` (no ticket shared "
    "across terminals) or set `Defaults timestamp_timeout=0`; if you just used sudo in this terminal, run `sudo -k` "
    "and check again"
)


def check_sudo(found: Findings, *, timeout: float = 10.0) -> Check:
    """In protected mode, operator authority is root's: a sudo that does not ask gives it to any program."""
    import shutil
    import subprocess

    if mode_of(found.socket) != "protected":
        return skip("sudo", "single-user mode: there is no operator boundary to check")
    if os.geteuid() == 0:
        return skip("sudo", "run `etradectl doctor` as your desktop user (not root) to check that sudo asks")
    sudo = shutil.which("sudo", path=found.environ.get("PATH"))
    if sudo is None:
        return warn("sudo", "sudo is not installed", "run operator commands as root: `su -c 'etradectl ...'`")
    try:
        result = subprocess.run(
            [sudo, "-n", "true"], stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return warn("sudo", f"could not run `sudo -n true` ({type(exc).__name__})")
    if result.returncode == 0:
        return fail(
            "sudo",
            "`sudo -n true` succeeded without a password: any program running as you (an MCP client's shell) gets "
            "operator authority and can approve orders",
            SUDO_FIX,
            exit_codes.POLICY,
        )
    return ok("sudo", "`sudo -n true` fails: operator commands need your password")


# --- MCP clients ------------------------------------------------------------------------------


def check_mcp_clients(found: Findings) -> Check:
    from cli.installation import PROXY, find_executable
    from cli.mcp_clients import find_configured

    configured, problems = find_configured(environ=found.environ)
    fix = "etradectl mcp config --client claude-desktop --write (or claude-code, cursor)"
    if not configured:
        if problems:
            return warn("mcp client", "; ".join(problems), fix)
        return warn("mcp client", "no MCP client (Claude Desktop, Claude Code, Cursor) starts etrade-mcp yet", fix)
    try:
        ours: Path | None = find_executable(PROXY)
    except Exception:
        ours = None
    failures, notes = [], []
    for entry in configured:
        where = f"{entry.client} ({entry.path}, {entry.server_name!r})"
        command = Path(entry.command)
        if not command.is_absolute() or not os.access(command, os.X_OK):
            failures.append(f"{where} runs {entry.command!r}, which is not an executable absolute path")
        elif entry.socket and Path(entry.socket) != found.socket:
            failures.append(f"{where} uses the socket {entry.socket}, the daemon is on {found.socket}")
        elif ours is not None and command.parent != ours.parent:
            notes.append(f"{where} runs {command} from another installation than this etradectl ({ours.parent})")
        else:
            notes.append(where)
    if failures:
        fix_each = f"etradectl mcp config --client {configured[0].client} --write"
        return fail("mcp client", "; ".join(failures), f"rewrite the entry: `{fix_each}`", exit_codes.INVALID)
    return ok("mcp client", "configured: " + "; ".join(notes))
