"""The audit trail: the append-only, hash-chained log of everything order-related and of logins.

- ``log``       :class:`AuditLog`: the file, its hash chain and its verification;
- ``recorder``  :class:`AuditRecorder`: appends off the event loop (the orders' I/O thread), adds who
                the kernel says made the call, and the best-effort :meth:`AuditRecorder.record` that
                logins, halts and outcomes use.

Invariant: entries never contain secrets (no tokens, no confirmation codes).

May import: ``daemon.caller`` (the calling process's identity) and the standard library; never the
orders desk, the session or the servicers (they import this package).
"""

from daemon.audit.log import FILE_NAME, GENESIS, HEAD_KEY, AuditEntry, AuditLog, Verification
from daemon.audit.recorder import AuditRecorder

__all__ = ["FILE_NAME", "GENESIS", "HEAD_KEY", "AuditEntry", "AuditLog", "AuditRecorder", "Verification"]
