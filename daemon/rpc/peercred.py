"""Who is on the other end of a unix socket, according to the kernel.

Linux: ``SO_PEERCRED`` gives (pid, uid, gid) of the process that connected. macOS: ``getpeereid``
semantics through ``LOCAL_PEERCRED`` (uid, first gid) and ``LOCAL_PEERPID`` (pid); written from the
headers, not tested here. A process's start time (Linux ``/proc/<pid>/stat`` field 22) tells a live
process from a later one that reused its pid.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
from dataclasses import dataclass

# <sys/un.h> on macOS; Python's socket module does not export them.
_SOL_LOCAL = 0
_LOCAL_PEERCRED = 0x001
_LOCAL_PEERPID = 0x002
# struct xucred: u_int cr_version; uid_t cr_uid; short cr_ngroups; gid_t cr_groups[16] (native alignment).
_XUCRED = struct.Struct("IIh16I")


@dataclass(frozen=True)
class PeerCredentials:
    uid: int
    gid: int
    pid: int


def peer_credentials(sock: socket.socket) -> PeerCredentials:
    """The connected peer's uid, gid and pid. Raises OSError where the platform cannot tell."""
    if hasattr(socket, "SO_PEERCRED"):
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, gid = struct.unpack("3i", raw)
        return PeerCredentials(uid=uid, gid=gid, pid=pid)
    if sys.platform == "darwin":
        raw = sock.getsockopt(_SOL_LOCAL, _LOCAL_PEERCRED, _XUCRED.size)
        _version, uid, ngroups, *groups = _XUCRED.unpack_from(raw.ljust(_XUCRED.size, b"\0"))
        gid = groups[0] if ngroups > 0 else -1
        pid_raw = sock.getsockopt(_SOL_LOCAL, _LOCAL_PEERPID, struct.calcsize("i"))
        (pid,) = struct.unpack("i", pid_raw)
        return PeerCredentials(uid=uid, gid=gid, pid=pid)
    raise OSError("this platform cannot tell a unix socket's peer")


#: Linux ≥ 6.5 <asm-generic/socket.h>; Python's socket module does not export it.
_SO_PEERPIDFD = 77


def peer_pidfd(sock: socket.socket) -> int | None:
    """A pidfd of the process that connected, taken by the kernel at connect time, so a pid reused
    since then cannot be mistaken for it (Linux ≥ 6.5); None where the platform cannot give one.
    The caller owns (and must close) the descriptor."""
    if not hasattr(socket, "SO_PEERCRED"):
        return None
    try:
        return int(sock.getsockopt(socket.SOL_SOCKET, _SO_PEERPIDFD))
    except OSError:
        return None


def process_start(pid: int) -> str | None:
    """An opaque marker of the process's start (Linux: start time in clock ticks); None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself contain spaces or parentheses.
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[19].decode("ascii") if len(fields) > 19 else None


def process_alive(pid: int, start: str | None) -> bool:
    """True while the process that had ``start`` when it was seen still runs under that pid.

    On Linux an unknown start (``/proc`` hidden from us, ``ProtectProc=invisible``) counts as not
    alive: "some process has this pid" would let a later process inherit what the first was given.
    macOS has no ``/proc`` to read, and only the pid can be checked there.
    """
    if start is not None:
        return process_start(pid) == start
    if sys.platform == "darwin":
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # it exists; it belongs to someone else
        return True
    return False
