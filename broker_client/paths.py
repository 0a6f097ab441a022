"""Where etrade-mcp keeps its socket, configuration and state (XDG on Linux, ~/Library on macOS).

Import-light: the MCP proxy and the CLI use it to find the daemon's socket.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from pathlib import Path

log = logging.getLogger(__name__)

APP_NAME = "etrade-mcp"
SOCKET_NAME = "broker.sock"
SOCKET_ENV = "ETRADE_MCP_SOCKET"
CONFIG_ENV = "ETRADE_MCP_CONFIG"
STATE_ENV = "ETRADE_MCP_STATE_DIR"
AUTH_SUFFIX = ".auth"
#: Protected mode's socket (``etrade-daemon --system``; systemd's RuntimeDirectory=etrade-mcp).
LINUX_SYSTEM_RUNTIME_DIR = Path("/run/etrade-mcp")
#: The LaunchDaemon's (macOS has no /run; the plist points RUNTIME_DIRECTORY here).
MACOS_SYSTEM_RUNTIME_DIR = Path("/Library/Application Support/etrade-mcp/run")
SYSTEM_RUNTIME_DIR = MACOS_SYSTEM_RUNTIME_DIR if sys.platform == "darwin" else LINUX_SYSTEM_RUNTIME_DIR
SYSTEM_SOCKET_NAME = "etrade.sock"
#: Protected mode's state and configuration on Linux (systemd's StateDirectory=, ConfigurationDirectory=).
LINUX_SYSTEM_STATE_DIR = Path("/var/lib/etrade-mcp")
LINUX_SYSTEM_CONFIG_DIR = Path("/etc/etrade-mcp")
#: The longest socket path used: sun_path is 108 bytes on Linux, 104 on macOS; stay under both.
MAX_SOCKET_PATH = 100


def _home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


#: Where systemd-logind makes each logged-in user's runtime directory (``/run/user/UID``).
SESSION_RUNTIME_ROOT = Path("/run/user")


def runtime_dir() -> Path:
    """The private (0700) directory that holds the socket and the single-instance lock.

    The daemon listens here and every client looks here: one rule for both, so they meet even when
    one of them runs without XDG_RUNTIME_DIR (MCP clients pass a stripped environment; sudo and
    cron drop it) while the other was started from a login shell.
    """
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / APP_NAME
    if sys.platform == "darwin":
        return _home() / "Library" / "Application Support" / APP_NAME / "run"
    session = SESSION_RUNTIME_ROOT / str(os.getuid())
    if _is_private_dir_of_ours(session):
        return session / APP_NAME
    # Never /tmp: a shared directory invites another user to pre-create our path.
    return state_dir() / "run"


def _is_private_dir_of_ours(path: Path) -> bool:
    """A real directory (not a symlink) that we own and nobody else can enter: logind's, not a plant."""
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and info.st_mode & 0o077 == 0


def default_socket_path() -> Path:
    return runtime_dir() / SOCKET_NAME


def auth_socket_path(socket: Path) -> Path:
    """The identity handshake's socket beside the daemon's gRPC socket (see ``daemon/authority.py``)."""
    return socket.with_name(socket.name + AUTH_SUFFIX)


def socket_path(override: str | os.PathLike[str] | None = None) -> Path:
    """The socket all three executables use: ``--socket`` > ``ETRADE_MCP_SOCKET`` > the default."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get(SOCKET_ENV)
    if env:
        return Path(env).expanduser()
    return default_socket_path()


def system_socket_path() -> Path:
    return SYSTEM_RUNTIME_DIR / SYSTEM_SOCKET_NAME


def client_socket_path(override: str | os.PathLike[str] | None = None) -> Path:
    """The socket a client connects to: :func:`socket_path`, except that without an explicit choice
    a protected-mode daemon's socket is used when present and there is no per-user daemon's socket
    (or the caller is root).

    Root with the protected daemon's socket present ignores ``ETRADE_MCP_SOCKET`` (with a warning):
    an environment kept through ``sudo -E`` or ``env_keep`` is the desktop user's, and may name a
    directory they control where a fake daemon listens. An explicit ``--socket`` still counts
    (the client checks it with :func:`root_socket_refusal`).
    """
    if override:
        return socket_path(override)
    own = default_socket_path()
    system = system_socket_path()
    env = os.environ.get(SOCKET_ENV)
    if env:
        if os.geteuid() == 0 and system.exists():
            log.warning(
                "ignoring %s=%s: as root, etradectl talks to the protected daemon at %s (pass --socket to choose)",
                SOCKET_ENV,
                env,
                system,
            )
            return system
        return socket_path()
    # Root (sudo etradectl) prefers the protected daemon: an environment kept through sudo may
    # point at a runtime directory the desktop user controls, where a fake daemon could listen.
    if system.exists() and (not own.exists() or os.geteuid() == 0):
        return system
    return own


def root_socket_refusal(path: Path) -> str | None:
    """Why root must not use the socket at ``path`` (None: it may).

    Root's identity token and its trust in what the daemon shows go to whoever serves ``path``, so
    nobody but root and the socket's owner may be able to put another socket there: the socket's
    directory and every directory above it must belong to root or to the socket's owner and be
    writable by nobody else. Above the socket's directory a sticky directory (``/tmp``) is allowed
    when the entry below it is ours, since nobody else may rename or remove that entry; the
    socket's own directory never may be shared (anyone could plant the socket's name there first).
    Checked along the path as written and along the path with links resolved.
    """
    path = Path(os.path.abspath(path))
    try:
        owner = path.lstat().st_uid
    except OSError:
        owner = None  # no socket (yet): connecting will say so; still refuse a shared directory
    allowed = {0} if owner is None else {0, owner}
    for candidate in (path, Path(os.path.realpath(path))):
        reason = _unsafe_ancestry(candidate, allowed)
        if reason is not None:
            return reason
    return None


def _unsafe_ancestry(path: Path, allowed: set[int]) -> str | None:
    below_ok = True  # whether the entry below the directory being checked belongs to an allowed user
    for index, directory in enumerate(path.parents):
        try:
            info = directory.lstat()
        except FileNotFoundError:
            # Nothing to connect to (the client will say so); whoever may create it is checked above.
            below_ok = False
            continue
        except OSError as exc:
            return f"cannot inspect {directory}: {exc.strerror}"
        if stat.S_ISLNK(info.st_mode):
            # The link itself lives in its parent, checked next; where it leads is checked on the
            # resolved path.
            below_ok = info.st_uid in allowed
            continue
        if info.st_uid not in allowed:
            return f"{directory} belongs to uid {info.st_uid}, not to root or the socket's owner"
        if info.st_mode & 0o022:
            sticky = bool(info.st_mode & stat.S_ISVTX)
            if index == 0 or not sticky or not below_ok:
                who = "others" if info.st_mode & 0o002 else "its group"
                return f"{directory} is writable by {who} (mode {stat.S_IMODE(info.st_mode):o})"
        below_ok = True
    return None


def config_dir() -> Path:
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg else _home() / ".config"
    return base / APP_NAME


def config_file(override: str | os.PathLike[str] | None = None) -> Path:
    if override:
        return Path(override).expanduser()
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    return config_dir() / "config.toml"


def state_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Durable daemon state: the order journal, the audit log, the opt-in file secret store."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get(STATE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else _home() / ".local" / "state"
    return base / APP_NAME
