"""The order journal: a durable record written *before* every place or cancel request.

SQLite in the state directory (``orders.sqlite3``, 0600), WAL with ``synchronous=FULL``: once
:meth:`Journal.begin` returns, the entry survives a crash or power loss. Each entry carries the
order exactly as sent and its ``clientOrderId``. Its state moves:

    SENDING ──► PLACED | CANCEL_ACCEPTED        E*TRADE said yes (order id known)
            ├─► REJECTED                        E*TRADE said no (nothing happened)
            └─► UNKNOWN                          timeout, lost connection, daemon crash
                   ├─► PLACED | CANCEL_ACCEPTED  found in E*TRADE's order list (reconciled)
                   └─► NOT_PLACED | NOT_CANCELLED  not found after the grace period (reconciled)

An UNKNOWN entry is never retried; reconciliation only looks. Entries that need a human (UNKNOWN,
and anything reconciled that the operator has not acknowledged) are reported by
:meth:`Journal.attention`. The ``control`` table keeps the halt switch and the audit log's head.

Thread-safe (one connection behind a lock); the daemon calls it from a worker thread.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from broker_client.errors import ErrorCode, InvalidRequest, NotFound

FILE_NAME = "orders.sqlite3"
LOCK_NAME = "orders.lock"


class StateDirInUse(InvalidRequest):
    """Another daemon process owns this journal."""

    def __init__(self, message: str) -> None:
        super().__init__(
            ErrorCode.INVALID_ARGUMENT,
            message,
            hint="stop the other etrade-daemon (`etradectl status` talks to it), or give this one another "
            "--state-dir; two daemons must never share an order journal",
        )


_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    pending_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    account_id_key TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    action TEXT NOT NULL,
    quantity TEXT NOT NULL,
    price_type TEXT NOT NULL,
    limit_price TEXT NOT NULL,
    stop_price TEXT NOT NULL,
    order_term TEXT NOT NULL,
    market_session TEXT NOT NULL,
    all_or_none INTEGER NOT NULL,
    preview_ids TEXT NOT NULL,
    estimated_value TEXT NOT NULL,
    order_id INTEGER,
    created_at REAL NOT NULL,
    resolved_at REAL,
    detail TEXT NOT NULL DEFAULT '',
    candidates TEXT NOT NULL DEFAULT '',
    reconciled INTEGER NOT NULL DEFAULT 0,
    acknowledged INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS entries_state ON entries (state);
CREATE TABLE IF NOT EXISTS control (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class EntryKind(enum.StrEnum):
    PLACE = "PLACE"
    CANCEL = "CANCEL"


class EntryState(enum.StrEnum):
    SENDING = "SENDING"
    PLACED = "PLACED"
    CANCEL_ACCEPTED = "CANCEL_ACCEPTED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"
    NOT_PLACED = "NOT_PLACED"
    NOT_CANCELLED = "NOT_CANCELLED"


#: States whose outcome is not known yet.
OPEN_STATES = (EntryState.SENDING, EntryState.UNKNOWN)


@dataclass(frozen=True)
class NewEntry:
    """What is journaled before a request goes out."""

    kind: EntryKind
    pending_id: str
    digest: str
    account_id_key: str
    client_order_id: str
    symbol: str
    action: str
    quantity: str
    price_type: str
    limit_price: str
    stop_price: str
    order_term: str
    market_session: str
    all_or_none: bool
    preview_ids: str
    estimated_value: str
    created_at: float
    #: For a cancel: the order it cancels.
    order_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class Entry(NewEntry):
    """One journal row: the request as journaled, and what became of it."""

    id: int
    state: EntryState
    resolved_at: float | None
    detail: str
    candidates: str
    reconciled: bool
    acknowledged: bool

    @property
    def needs_attention(self) -> bool:
        """Unknown outcome, or a reconciled outcome nobody has looked at yet."""
        return self.state in OPEN_STATES or (self.reconciled and not self.acknowledged)

    @property
    def candidate_ids(self) -> tuple[int, ...]:
        return tuple(int(x) for x in self.candidates.split(",") if x.strip().isdigit())


#: The columns a new entry fills, in the dataclass's order (they have the same names).
_NEW_COLUMNS = tuple(f.name for f in fields(NewEntry))
_INSERT = (
    f"INSERT INTO entries (state, {', '.join(_NEW_COLUMNS)}) VALUES ('SENDING', {', '.join('?' for _ in _NEW_COLUMNS)})"
)
#: SQLite hands these back as text or integers.
_CONVERT: dict[str, Callable[[Any], Any]] = {
    "kind": EntryKind,
    "state": EntryState,
    "all_or_none": bool,
    "reconciled": bool,
    "acknowledged": bool,
}


def _entry(row: sqlite3.Row) -> Entry:
    values = {f.name: _CONVERT.get(f.name, _same)(row[f.name]) for f in fields(Entry)}
    return Entry(**values)


def _same(value: Any) -> Any:
    return value


class Journal:
    """The journal database. Open once per daemon; every write is committed durably before returning."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._owner = self._take_ownership(path.parent / LOCK_NAME)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk (WAL fsync) before it returns — the point of a journal.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        # Entries whose outcome is not settled, kept in memory under their own lock so the order
        # service can ask from the event loop, in the same synchronous step as a claim.
        self._unsettled_lock = threading.Lock()
        self._unsettled: dict[int, Entry] = {e.id: e for e in self.in_states(*OPEN_STATES)}

    @staticmethod
    def _take_ownership(lock_path: Path) -> int:
        """One daemon per journal: an exclusive flock held until close() (or the process dies)."""
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            other = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                pid = f" (pid {other})" if other.isdigit() else ""
                raise StateDirInUse(
                    f"another etrade-daemon is already running{pid} with the order journal in {lock_path.parent}"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        return fd

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._owner >= 0:
                os.ftruncate(self._owner, 0)
                os.close(self._owner)
                self._owner = -1

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                # Also after a failed COMMIT (disk full, I/O error): SQLite may leave the transaction
                # open, and every later write on this connection would fail until a restart.
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                raise

    # -- entries -----------------------------------------------------------------------------
    def begin(self, new: NewEntry) -> Entry:
        """Record a request about to be sent (state SENDING). Durable when this returns."""
        with self._transaction() as db:
            values = tuple(getattr(new, name) for name in _NEW_COLUMNS)
            cursor = db.execute(_INSERT, tuple(int(v) if isinstance(v, bool) else v for v in values))
            entry_id = cursor.lastrowid
        assert entry_id is not None
        return self._track(self.get(entry_id))

    def resolve(
        self,
        entry_id: int,
        state: EntryState,
        *,
        at: float,
        detail: str = "",
        order_id: int | None = None,
        reconciled: bool = False,
        candidates: tuple[int, ...] = (),
    ) -> Entry:
        """Record an outcome (or, for UNKNOWN, what is known so far)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE entries SET state = ?, resolved_at = ?, detail = ?, order_id = COALESCE(?, order_id),"
                " reconciled = ?, candidates = ?, acknowledged = 0 WHERE id = ?",
                (
                    state.value,
                    None if state in OPEN_STATES else at,
                    detail,
                    order_id,
                    int(reconciled),
                    ",".join(str(c) for c in candidates),
                    entry_id,
                ),
            )
        return self._track(self.get(entry_id))

    def _track(self, entry: Entry) -> Entry:
        with self._unsettled_lock:
            if entry.state in OPEN_STATES:
                self._unsettled[entry.id] = entry
            else:
                self._unsettled.pop(entry.id, None)
        return entry

    def unsettled(self, account_id_key: str, symbol: str) -> Entry | None:
        """The oldest entry for this account and symbol that is in flight or has an unknown outcome.

        Answered from memory (no database access), so it is safe to call on the event loop.
        """
        with self._unsettled_lock:
            found = [e for e in self._unsettled.values() if e.account_id_key == account_id_key and e.symbol == symbol]
        return min(found, key=lambda e: e.id, default=None)

    def acknowledge(self, entry_id: int) -> Entry:
        """The operator has seen a reconciled outcome."""
        self.get(entry_id)
        with self._transaction() as db:
            db.execute("UPDATE entries SET acknowledged = 1 WHERE id = ?", (entry_id,))
        return self.get(entry_id)

    def get(self, entry_id: int) -> Entry:
        with self._lock:
            row = self._db.execute("SELECT * FROM entries WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise NotFound(ErrorCode.JOURNAL_ENTRY_NOT_FOUND, f"there is no journal entry {entry_id}")
        return _entry(row)

    def entries(self, *, limit: int = 100) -> list[Entry]:
        """The newest entries first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM entries ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [_entry(r) for r in rows]

    def in_states(self, *states: EntryState) -> list[Entry]:
        marks = ",".join("?" for _ in states)
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM entries WHERE state IN ({marks}) ORDER BY id", [s.value for s in states]
            ).fetchall()
        return [_entry(r) for r in rows]

    def attention(self) -> list[Entry]:
        """Entries a human should look at, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM entries WHERE state IN ('SENDING', 'UNKNOWN') OR (reconciled = 1 AND acknowledged = 0)"
                " ORDER BY id"
            ).fetchall()
        return [_entry(r) for r in rows]

    def claimed_order_ids(self) -> set[int]:
        """Order ids already attributed to a PLACE entry (reconciliation must not give them twice)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT order_id FROM entries WHERE kind = 'PLACE' AND order_id IS NOT NULL"
            ).fetchall()
        return {int(r["order_id"]) for r in rows}

    def placed_since(self, since: float) -> list[Entry]:
        """PLACE entries made since ``since`` that placed (or may have placed) an order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM entries WHERE kind = 'PLACE' AND created_at >= ?"
                " AND state IN ('SENDING', 'PLACED', 'UNKNOWN') ORDER BY id",
                (since,),
            ).fetchall()
        return [_entry(r) for r in rows]

    def mark_interrupted(self, at: float) -> list[Entry]:
        """At start-up: requests that were in flight when the daemon stopped have unknown outcomes."""
        interrupted = self.in_states(EntryState.SENDING)
        for entry in interrupted:
            self.resolve(
                entry.id,
                EntryState.UNKNOWN,
                at=at,
                detail="the daemon stopped while this request was in flight; checking E*TRADE's order list",
            )
        return [self.get(e.id) for e in interrupted]

    # -- control -----------------------------------------------------------------------------
    def get_control(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM control WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def set_control(self, key: str, value: str | None) -> None:
        with self._transaction() as db:
            if value is None:
                db.execute("DELETE FROM control WHERE key = ?", (key,))
            else:
                db.execute(
                    "INSERT INTO control (key, value) VALUES (?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )
