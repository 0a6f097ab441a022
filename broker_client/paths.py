"""Where etrade-mcp keeps its socket, configuration and state (XDG on Linux, ~/Library on macOS).

Import-light: the MCP proxy and the CLI use it to find the daemon's socket.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

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
    (or the caller is root)."""
    if override or os.environ.get(SOCKET_ENV):
        return socket_path(override)
    own = default_socket_path()
    system = system_socket_path()
    # Root (sudo etradectl) prefers the protected daemon: an environment kept through sudo may
    # point at a runtime directory the desktop user controls, where a fake daemon could listen.
    if system.exists() and (not own.exists() or os.geteuid() == 0):
        return system
    return own


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
