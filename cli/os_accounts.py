"""The OS accounts of protected mode: the service user, the clients' group and the desktop user's
membership in it, as plan steps (pure data), whether each already exists, and the commands that
create them on Linux (useradd, groupadd, usermod) and macOS (dscl, dseditgroup).
"""

from __future__ import annotations

import grp
import pwd
from dataclasses import dataclass
from pathlib import Path

from cli.service_manager import Platform


@dataclass(frozen=True)
class EnsureGroup:
    name: str
    exists: bool


@dataclass(frozen=True)
class EnsureUser:
    name: str
    group: str
    home: Path
    exists: bool


@dataclass(frozen=True)
class AddMember:
    user: str
    group: str
    member: bool


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def is_member(user: str, group: str) -> bool:
    try:
        entry = grp.getgrnam(group)
        account = pwd.getpwnam(user)
    except KeyError:
        return False
    return user in entry.gr_mem or account.pw_gid == entry.gr_gid


def account_commands(step: EnsureGroup | EnsureUser | AddMember, platform: Platform) -> list[list[str]]:
    """The commands that create ``step``'s account or membership (computed when run: macOS needs ids)."""
    if isinstance(step, EnsureGroup):
        if platform == "linux":
            return [["groupadd", "--system", step.name]]
        return [["dseditgroup", "-o", "create", "-r", "etrade-mcp clients", step.name]]
    if isinstance(step, AddMember):
        if platform == "linux":
            return [["usermod", "--append", "--groups", step.group, step.user]]
        return [["dseditgroup", "-o", "edit", "-a", step.user, "-t", "user", step.group]]
    if platform == "linux":
        nologin = next((s for s in ("/usr/sbin/nologin", "/sbin/nologin") if Path(s).exists()), "/bin/false")
        return [
            [
                "useradd",
                "--system",
                "--gid",
                step.group,
                "--home-dir",
                str(step.home),
                "--no-create-home",
                "--shell",
                nologin,
                "--comment",
                "etrade-mcp daemon",
                step.name,
            ]
        ]
    taken = {entry.pw_uid for entry in pwd.getpwall()}
    uid = next(n for n in range(450, 500) if n not in taken)
    gid = grp.getgrnam(step.group).gr_gid if group_exists(step.group) else 20
    record = f"/Users/{step.name}"
    return [
        ["dscl", ".", "-create", record],
        ["dscl", ".", "-create", record, "UniqueID", str(uid)],
        ["dscl", ".", "-create", record, "PrimaryGroupID", str(gid)],
        ["dscl", ".", "-create", record, "UserShell", "/usr/bin/false"],
        ["dscl", ".", "-create", record, "NFSHomeDirectory", str(step.home)],
        ["dscl", ".", "-create", record, "RealName", "etrade-mcp daemon"],
        ["dscl", ".", "-create", record, "IsHidden", "1"],
    ]
