"""Protected mode (``etrade-daemon --system``): the daemon as its own OS user, set up by the system.

The service manager hands the daemon its directories (systemd's ``STATE_DIRECTORY``,
``RUNTIME_DIRECTORY`` and ``CONFIGURATION_DIRECTORY``, with the defaults below elsewhere). The
daemon then:

- reads its configuration only from ``$CONFIGURATION_DIRECTORY/config.toml`` and refuses to start
  when that file or its directory could be changed by anyone but root: a desktop user must not be
  able to lift read-only mode or the limits;
- keeps secrets only in the 0600 file of its 0700 state directory: never a keyring, never the
  consumer key or secret from its environment (ignored, with a warning);
- serves the clients' group on ``$RUNTIME_DIRECTORY/etrade.sock`` (0660 in a 0750 directory), with
  operator authority decided by the kernel's account of each caller (``daemon/rpc/authority.py``).
"""

from __future__ import annotations

import grp
import logging
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from broker_client import paths
from broker_client.errors import ErrorCode, InvalidRequest

log = logging.getLogger(__name__)

SOCKET_NAME = paths.SYSTEM_SOCKET_NAME
CONFIG_NAME = "config.toml"
DEFAULT_STATE = paths.LINUX_SYSTEM_STATE_DIR
DEFAULT_RUNTIME = paths.SYSTEM_RUNTIME_DIR
DEFAULT_CONFIGURATION = paths.LINUX_SYSTEM_CONFIG_DIR
#: Environment variables that must not reach a protected daemon's settings.
#: Who may own the configuration and the directories above it (tests add their own uid).
ROOT_ONLY = frozenset({0})
IGNORED_ENV = ("ETRADE_CONSUMER_KEY", "ETRADE_CONSUMER_SECRET")


class ProtectedModeError(InvalidRequest):
    """Protected mode cannot start as set up; the message says why and what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(ErrorCode.INVALID_ARGUMENT, message, hint=hint)


@dataclass(frozen=True)
class SystemDirs:
    state: Path
    runtime: Path
    configuration: Path

    @property
    def socket(self) -> Path:
        return self.runtime / SOCKET_NAME

    @property
    def config_file(self) -> Path:
        return self.configuration / CONFIG_NAME

    @property
    def watchlists_file(self) -> Path:
        # The configuration is root's and read-only to the daemon; its own lists live in its state.
        return self.state / "watchlists.toml"


def _one_dir(environ: Mapping[str, str], name: str, default: Path) -> Path:
    # systemd passes a colon-separated list when a unit names several; ours names one.
    raw = environ.get(name, "").split(":")[0]
    return Path(raw) if raw else default


def system_dirs(environ: Mapping[str, str] | None = None) -> SystemDirs:
    environ = os.environ if environ is None else environ
    return SystemDirs(
        state=_one_dir(environ, "STATE_DIRECTORY", DEFAULT_STATE),
        runtime=_one_dir(environ, "RUNTIME_DIRECTORY", DEFAULT_RUNTIME),
        configuration=_one_dir(environ, "CONFIGURATION_DIRECTORY", DEFAULT_CONFIGURATION),
    )


def check_root_owned(path: Path, *, trusted: frozenset[int] = ROOT_ONLY) -> None:
    """Refuse unless ``path`` belongs to root and nobody else may write it (no group/other write)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ProtectedModeError(
            f"cannot check {path}: {exc.strerror}", f"make {path} readable by the daemon's user"
        ) from None
    problems = []
    if stat.S_ISLNK(info.st_mode):
        problems.append("is a symbolic link")
    if info.st_uid not in trusted:
        problems.append(f"belongs to uid {info.st_uid}, not root")
    if stat.S_IMODE(info.st_mode) & 0o022:
        problems.append(f"is writable by its group or others (mode {stat.S_IMODE(info.st_mode):o})")
    if problems:
        raise ProtectedModeError(
            f"refusing to start in protected mode: {path} {' and '.join(problems)}, so someone other than root "
            "could change the daemon's configuration (read-only mode, limits)",
            f"sudo chown root:root {path} && sudo chmod go-w {path}",
        )


def check_ancestors(path: Path, *, trusted: frozenset[int] = ROOT_ONLY) -> None:
    """Nobody but root can rename or replace a directory on the way to ``path``.

    A world-writable directory with the sticky bit (``/tmp``) is fine: others cannot rename what
    root owns in it.
    """
    for parent in path.resolve().parents:
        info = os.stat(parent)
        mode = stat.S_IMODE(info.st_mode)
        sticky_shared = bool(mode & stat.S_ISVTX)
        if info.st_uid not in trusted or (mode & 0o022 and not sticky_shared):
            raise ProtectedModeError(
                f"refusing to start in protected mode: {parent}, on the way to {path}, could be changed by "
                f"someone other than root (owner uid {info.st_uid}, mode {mode:o})",
                "keep the configuration under a directory only root can change, e.g. /etc/etrade-mcp",
            )


def check_configuration(dirs: SystemDirs, *, trusted: frozenset[int] = ROOT_ONLY) -> None:
    """The configuration directory and file are root's alone (a missing file means the defaults)."""
    check_ancestors(dirs.configuration, trusted=trusted)
    check_root_owned(dirs.configuration, trusted=trusted)
    check_root_owned(dirs.config_file, trusted=trusted)


def clients_gid(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise ProtectedModeError(
            f"the clients' group {name!r} does not exist",
            f"create it (sudo groupadd {name}) or set clients_group in the configuration",
        ) from None


def private_state(dirs: SystemDirs) -> None:
    """The state directory (secrets, journal, audit log) is the service user's alone: 0700."""
    try:
        dirs.state.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = dirs.state.stat()
    except OSError as exc:
        raise ProtectedModeError(
            f"cannot use the state directory {dirs.state}: {exc.strerror}",
            "let the service manager create it (systemd: StateDirectory=) or chown it to the service user",
        ) from None
    if info.st_uid != os.getuid():
        raise ProtectedModeError(
            f"the state directory {dirs.state} belongs to uid {info.st_uid}, not the daemon's user",
            "let the service manager create it (systemd: StateDirectory=) or chown it to the service user",
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(dirs.state, 0o700)


def filtered_environment(environ: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The environment without what a protected daemon must not take from it, and what was dropped."""
    kept = dict(environ)
    ignored = [name for name in IGNORED_ENV if kept.pop(name, None) is not None]
    return kept, ignored
