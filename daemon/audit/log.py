"""The audit log: append-only, each entry chained to the one before it by a SHA-256 hash.

One JSON object per line in ``audit.jsonl`` (state directory, 0600)::

    {"seq": 7, "at_ms": 1773154800123, "event": "order.placed", "data": {...}, "prev": "<hash of 6>",
     "hash": "<sha256 of prev + canonical JSON of seq, at_ms, event, data>"}

:meth:`AuditLog.verify` recomputes the chain, so a modified entry (its hash no longer matches) or a
deleted one (a gap in ``seq``, or a ``prev`` that does not match) is found. Deleting entries at the
end leaves a valid shorter chain, so the newest ``(seq, hash)`` is also kept outside the file (the
journal database's ``control`` table) and checked. Someone able to rewrite both files can forge
history; the chain catches mistakes, naive edits and truncation, not a determined local attacker.

Entries never contain secrets: no tokens, no confirmation codes.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE_NAME = "audit.jsonl"
GENESIS = "0" * 64
HEAD_KEY = "audit_head"


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at_ms: int
    event: str
    data: dict[str, Any]
    prev: str
    hash: str


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    problem: str = ""
    first_bad_seq: int = 0


def _hash(prev: str, seq: int, at_ms: int, event: str, data: Mapping[str, Any]) -> str:
    body = json.dumps({"seq": seq, "at_ms": at_ms, "event": event, "data": data}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev + body).encode("utf-8")).hexdigest()


class AuditLog:
    """Appends and verifies the chain. ``head_get``/``head_set`` keep the newest (seq, hash) elsewhere."""

    def __init__(
        self,
        path: Path,
        *,
        head_get: Callable[[], str | None],
        head_set: Callable[[str], None],
    ) -> None:
        self.path = path
        self._head_get = head_get
        self._head_set = head_set
        self._lock = threading.Lock()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        self._last: tuple[int, str] | None = None

    def _tail(self) -> tuple[int, str]:
        """(seq, hash) of the last entry in the file."""
        if self._last is None:
            last = (0, GENESIS)
            for entry in self._read():
                if isinstance(entry, AuditEntry):
                    last = (entry.seq, entry.hash)
            self._last = last
        return self._last

    def append(self, event: str, data: Mapping[str, Any], at_ms: int) -> AuditEntry:
        """Append one event; on disk (fsync) when this returns."""
        clean = json.loads(json.dumps(dict(data), default=str))  # plain JSON values only
        with self._lock:
            seq, prev = self._tail()
            seq += 1
            digest = _hash(prev, seq, at_ms, event, clean)
            entry = AuditEntry(seq, at_ms, event, clean, prev, digest)
            line = json.dumps(
                {"seq": seq, "at_ms": at_ms, "event": event, "data": clean, "prev": prev, "hash": digest},
                sort_keys=True,
                separators=(",", ":"),
            )
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, (line + "\n").encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            self._last = (seq, digest)
            self._head_set(f"{seq}:{digest}")
            return entry

    def _read(self) -> list[AuditEntry | str]:
        """Every line as an entry, or the text of a line that is not one."""
        items: list[AuditEntry | str] = []
        try:
            with self.path.open("r", encoding="utf-8") as fh:
                for number, raw in enumerate(fh, start=1):
                    line = raw.strip()
                    if not line:
                        continue
                    try:
                        d = json.loads(line)
                        items.append(
                            AuditEntry(
                                int(d["seq"]),
                                int(d["at_ms"]),
                                str(d["event"]),
                                dict(d["data"]),
                                str(d["prev"]),
                                str(d["hash"]),
                            )
                        )
                    except (ValueError, KeyError, TypeError):
                        items.append(f"line {number} is not an audit entry")
        except FileNotFoundError:
            pass
        return items

    def entries(self, *, limit: int = 100, after_seq: int = 0) -> list[AuditEntry]:
        """The newest ``limit`` entries after ``after_seq``, oldest first."""
        with self._lock:
            found = [e for e in self._read() if isinstance(e, AuditEntry) and e.seq > after_seq]
        return found[-limit:] if limit > 0 else found

    def verify(self) -> Verification:
        """Recompute the chain and compare its end with the head kept outside the file."""
        with self._lock:
            items = self._read()
            head = self._head_get()
        prev, expected_seq, count = GENESIS, 1, 0
        for item in items:
            if isinstance(item, str):
                return Verification(False, count, f"{item}: the file was edited", expected_seq)
            if item.seq != expected_seq:
                return Verification(
                    False,
                    count,
                    f"entry {expected_seq} is missing (the next entry is {item.seq}): entries were deleted",
                    expected_seq,
                )
            if item.prev != prev:
                return Verification(False, count, f"entry {item.seq} does not follow entry {item.seq - 1}", item.seq)
            if _hash(item.prev, item.seq, item.at_ms, item.event, item.data) != item.hash:
                return Verification(False, count, f"entry {item.seq} was modified (its hash does not match)", item.seq)
            prev, expected_seq, count = item.hash, item.seq + 1, count + 1
        if head:
            head_seq_text, _, head_hash = head.partition(":")
            head_seq = int(head_seq_text) if head_seq_text.isdigit() else 0
            if count < head_seq:
                return Verification(
                    False,
                    count,
                    f"the log ends at entry {count} but entry {head_seq} was written: entries were deleted",
                    count + 1,
                )
            at_head = next((i for i in items if isinstance(i, AuditEntry) and i.seq == head_seq), None)
            if at_head is None or at_head.hash != head_hash:
                return Verification(False, count, f"entry {head_seq} is not the entry that was written", head_seq)
        return Verification(True, count)
