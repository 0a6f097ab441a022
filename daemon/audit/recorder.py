"""Appending to the audit log from the event loop: in order, off the loop, never failing a caller
that must not fail because of it (:meth:`AuditRecorder.record`).

The log's writes go through the single I/O thread the caller hands in (the orders desk shares it
with the journal), so audit entries and journal writes stay in the order they were made.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from daemon import caller
from daemon.audit.log import AuditEntry, AuditLog, Verification

log = logging.getLogger(__name__)


class AuditRecorder:
    """Appends to one :class:`AuditLog` on ``io`` (a one-thread executor), time-stamped by ``now_ms``."""

    def __init__(self, audit: AuditLog, io: Executor, now_ms: Callable[[], int]) -> None:
        self.log = audit
        self._io = io
        self._now_ms = now_ms

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._io, fn, *args)

    async def append(self, event: str, data: dict[str, Any]) -> AuditEntry:
        """Append, or raise: for the steps that must not go ahead off the record."""
        # Beside the name the client declared: who the kernel says made the call that led here.
        data = {**data, **caller.audit_fields()} if caller.CALLER.get() is not None else data
        entry: AuditEntry = await self._run(self.log.append, event, data, self._now_ms())
        return entry

    async def record(self, event: str, data: dict[str, Any]) -> None:
        """Audit an event where a failure to audit must not fail the caller (logins, outcomes)."""
        try:
            await self.append(event, data)
        except Exception:
            log.exception("audit: could not record %s", event)

    async def entries(self, *, limit: int, after_seq: int) -> list[AuditEntry]:
        found: list[AuditEntry] = await self._run(lambda: self.log.entries(limit=limit, after_seq=after_seq))
        return found

    async def verify(self) -> Verification:
        verification: Verification = await self._run(self.log.verify)
        return verification
