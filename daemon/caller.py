"""The kernel's account of who made the current call, for the domain code (no gRPC here).

``daemon/rpc/authority.py`` sets :data:`CALLER` for the duration of each gRPC call (and the tasks it
starts inherit it); the audit log reads it. None means unknown: a client that did not identify
itself (possible in single-user mode only), or work the daemon does on its own.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    """A caller as the kernel saw it when it shook hands."""

    uid: int
    gid: int
    pid: int

    def audit_fields(self) -> dict[str, int]:
        return {"caller_uid": self.uid, "caller_pid": self.pid}


#: The identity behind the current gRPC call (None: unknown, e.g. a client without the handshake).
CALLER: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("etrade_caller", default=None)


def audit_fields() -> dict[str, int]:
    """The current caller's kernel uid and pid for an audit entry; empty when unknown."""
    caller = CALLER.get()
    return caller.audit_fields() if caller is not None else {}
