"""Whose code protected mode would run: the daemon's code must be writable by root only, because a
desktop user who can edit it runs code as the service user. ``unsafe_code`` lists why others could
change it (an install from such code is refused), ``unreachable_code`` the folders the service user
could not enter. Reads file ownership and modes only; imports nothing of the daemon.
"""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path

from broker_client.errors import ErrorCode, InvalidRequest


def _writable_by_others(path: Path) -> str | None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return None if info.st_uid == 0 else f"{path} is a symlink owned by uid {info.st_uid}"
    if info.st_uid != 0:
        return f"{path} is owned by uid {info.st_uid}, not root"
    if stat.S_IMODE(info.st_mode) & 0o022 and not (stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX):
        return f"{path} is writable by its group or by everyone (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def _package_root(name: str) -> Path:
    """The folder that holds the top-level package ``name`` (site-packages, or a source checkout)."""
    spec = importlib.util.find_spec(name)
    locations = spec.submodule_search_locations if spec is not None else None
    if not locations:
        raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, f"the {name} package of etrade-mcp is not installed")
    return Path(next(iter(locations))).parent


def code_roots(daemon: Path) -> list[Path]:
    """The trees whose files the protected daemon executes: its environment and our packages."""
    # The interpreter a venv points at and its standard library, not the whole of its prefix (/usr).
    interpreter = Path(sys.executable).resolve()
    roots = [Path(sys.prefix), Path(sysconfig.get_path("stdlib")), interpreter, daemon.parent]
    # Located, not imported: etradectl needs where the daemon's code lies, not the code.
    roots += [_package_root(name) for name in ("daemon", "cli")]
    unique: list[Path] = []
    for root in roots:
        if root not in unique:
            unique.append(root)
    return unique


def unsafe_code(daemon: Path, *, limit: int = 5) -> list[str]:
    """Why non-root users could change the code the service user would run; empty when they cannot."""
    return unsafe_trees(code_roots(daemon), limit=limit)


def unsafe_trees(roots: Iterable[Path], *, limit: int = 5) -> list[str]:
    """Why non-root users could change a file under ``roots`` or swap a folder on the way to one.

    Bytecode caches are code: every ``__pycache__`` folder and ``.pyc`` file is checked like the
    sources, since Python runs a cached ``.pyc`` whose header matches its source without reading
    the source. (The service also reads no cache in these trees, see the system unit's
    PYTHONPYCACHEPREFIX; this check covers a daemon started any other way.)
    """
    problems: list[str] = []

    def note(problem: str | None) -> bool:
        if problem is not None and problem not in problems:
            problems.append(problem)
        return len(problems) >= limit

    for root in roots:
        for parent in [*reversed(root.parents), root]:  # a writable parent lets the tree be swapped
            if note(_writable_by_others(parent)):
                return problems
        if not root.is_dir():
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d != ".git"]
            for name in [*dirs, *files]:
                if note(_writable_by_others(Path(folder) / name)):
                    return problems
    return problems


def unreachable_code(daemon: Path) -> list[str]:
    """Folders on the way to the daemon's code that others cannot enter: the service user could not start it."""
    problems: list[str] = []
    for root in code_roots(daemon):
        for parent in [*reversed(root.parents), root]:
            try:
                mode = parent.stat().st_mode
            except FileNotFoundError:
                break
            if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
                problems.append(f"{parent} (mode {stat.S_IMODE(mode):04o}) hides {root} from the service user")
                break
    return list(dict.fromkeys(problems))


def refuse_unsafe_code(problems: Iterable[str]) -> None:
    problems = list(problems)
    if problems:
        raise InvalidRequest(
            ErrorCode.INVALID_ARGUMENT,
            "the daemon's code can be changed by users other than root, so protected mode would not protect: "
            + "; ".join(problems),
            hint="install etrade-mcp as root outside any home folder, e.g. `sudo python3 -m venv /opt/etrade-mcp && "
            "sudo /opt/etrade-mcp/bin/pip install etrade-mcp`, then run `sudo /opt/etrade-mcp/bin/etradectl service "
            "install --system`",
        )
