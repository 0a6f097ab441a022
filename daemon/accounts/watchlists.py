"""Watchlists: named lists of ticker symbols, kept in the ``[watchlists]`` table of config.toml.

```toml
[watchlists]
tech = ["AAPL", "MSFT", "NVDA"]
income = ["SCHD", "O", "VZ"]
```

The daemon owns them at run time: ``etradectl watchlist add|remove`` and anything else that
changes a list goes through :class:`WatchlistBook`, which rewrites the file safely — it re-reads
the file first (so hand edits are never overwritten), changes only the one entry, keeps every
comment and the rest of the file as it was (tomlkit), writes a temporary file next to it, fsyncs
and renames it over the original (a crash leaves the old or the new file, never half of one), and
follows a symlinked config file instead of replacing the link. Hand edits made while the daemon
runs are picked up on the next read (the file's stamp is checked on every access).

A malformed entry never stops the daemon and is never silently dropped: it is reported (log,
:attr:`WatchlistBook.problems`) and left in the file untouched until a human fixes it.

Names are 1-32 letters, digits, ``-`` or ``_`` (they appear in ``market://watchlist/{name}``
URIs and as bare TOML keys), unique regardless of case; each list holds at most 50 symbols (one
E*TRADE quote request). No gRPC here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.container import OutOfOrderTableProxy
from tomlkit.items import Array, InlineTable, Table

from broker_client.errors import ErrorCode, InvalidRequest, NotFound
from broker_client.symbols import normalize_symbol
from daemon.events import EventBus, EventKind

log = logging.getLogger(__name__)

TABLE = "watchlists"
MAX_SYMBOLS = 50
MAX_WATCHLISTS = 100
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_HEADER = "Watchlists kept by etrade-daemon: edit here or with `etradectl watchlist add|remove`."

#: An edit: the symbols now held → the symbols afterwards, or None to delete the watchlist.
Edit = Callable[[tuple[str, ...]], tuple[str, ...] | None]


@dataclass(frozen=True, slots=True)
class Watchlist:
    name: str
    symbols: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WatchlistChange:
    """The outcome of an edit: the list afterwards (None when deleted) and what happened."""

    name: str
    change: str  # created, updated, deleted, unchanged
    watchlist: Watchlist | None


def check_name(raw: str) -> str:
    """A valid watchlist name (as given), or InvalidRequest naming what is wrong."""
    name = raw.strip() if isinstance(raw, str) else ""
    if not _NAME.match(name):
        shown = name if len(name) <= 40 else name[:40] + "…"
        raise InvalidRequest(ErrorCode.INVALID_WATCHLIST, f"{shown!r} is not a valid watchlist name")
    return name


def parse_table(table: Mapping[str, Any], source: str) -> tuple[dict[str, Watchlist], list[str]]:
    """The valid watchlists of a ``[watchlists]`` table, and one message per invalid entry."""
    lists: dict[str, Watchlist] = {}
    problems: list[str] = []
    seen: dict[str, str] = {}
    for raw_name, raw_symbols in table.items():
        where = f"{source}: {TABLE}.{raw_name}"
        if not _NAME.match(str(raw_name)):
            problems.append(f"{where}: not a valid watchlist name (1-32 letters, digits, '-' or '_')")
            continue
        if raw_name.lower() in seen:
            problems.append(f"{where}: the name repeats {TABLE}.{seen[raw_name.lower()]} (names ignore case)")
            continue
        if not isinstance(raw_symbols, list):
            problems.append(f'{where}: expected a list of symbols such as ["AAPL", "MSFT"]')
            continue
        try:
            symbols = _normalize(raw_symbols)
        except InvalidRequest as exc:
            problems.append(f"{where}: {exc.message}")
            continue
        if len(lists) >= MAX_WATCHLISTS:
            problems.append(f"{where}: more than {MAX_WATCHLISTS} watchlists; this one is ignored")
            continue
        seen[raw_name.lower()] = raw_name
        lists[raw_name] = Watchlist(raw_name, symbols)
    return lists, problems


def _normalize(raw_symbols: Iterable[object]) -> tuple[str, ...]:
    symbols: list[str] = []
    for item in raw_symbols:
        if not isinstance(item, str):
            raise InvalidRequest(ErrorCode.INVALID_SYMBOL, f"{item!r} is not a ticker symbol")
        symbol = normalize_symbol(item)
        if symbol not in symbols:
            symbols.append(symbol)
    if len(symbols) > MAX_SYMBOLS:
        raise InvalidRequest(
            ErrorCode.INVALID_WATCHLIST, f"{len(symbols)} symbols; a watchlist holds at most {MAX_SYMBOLS}"
        )
    return tuple(symbols)


def _edit_in_place(array: Array, symbols: tuple[str, ...]) -> bool:
    """Make ``array`` hold ``symbols`` by removing and appending items, so the comments and layout
    around the items that stay are kept. False (array untouched) when that cannot give ``symbols``
    in order, e.g. for duplicates or entries that are not symbols."""
    held = [str(item).strip().upper() for item in array]
    keep = [symbol for symbol in held if symbol in symbols]
    additions = [symbol for symbol in symbols if symbol not in held]
    if tuple(keep + additions) != symbols:
        return False
    for index in reversed(range(len(held))):
        if held[index] not in symbols:
            del array[index]
    for symbol in additions:
        array.append(symbol)
    return True


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` all at once, keeping its mode; a symlink's target is written."""
    target = path.resolve() if path.is_symlink() else path
    directory = target.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o600
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_fd)  # make the rename itself durable
    finally:
        os.close(directory_fd)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return (info.st_mtime_ns, info.st_size, info.st_ino)


class WatchlistBook:
    """The configured watchlists; edits are written back to ``path`` (None: kept in memory only)."""

    def __init__(self, path: Path | None, events: EventBus | None = None) -> None:
        self.path = path
        self._events = events
        self._lists: dict[str, Watchlist] = {}
        self.problems: list[str] = []
        self._stamp: tuple[int, int, int] | None = None
        self._loaded = False
        self._lock = asyncio.Lock()

    # --- reading ---------------------------------------------------------------------------

    def load(self) -> None:
        """Read the file (at start-up, and whenever it changed on disk). Never raises for content."""
        if self.path is None:
            return
        stamp = _stamp(self.path)
        try:
            text = self.path.read_text(encoding="utf-8") if stamp is not None else ""
            data = tomllib.loads(text)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            self.problems = [f"{self.path}: cannot read the watchlists: {exc}"]
            log.warning("watchlists: %s", self.problems[0])
            self._stamp = stamp
            return
        raw = data.get(TABLE, {})
        if not isinstance(raw, dict):
            lists: dict[str, Watchlist] = {}
            problems = [f"{self.path}: {TABLE} must be a table such as [{TABLE}] with name = [symbols]"]
        else:
            lists, problems = parse_table(raw, str(self.path))
        for problem in problems:
            log.warning("watchlists: %s", problem)
        previous, self._lists, self.problems, self._stamp = self._lists, lists, problems, stamp
        if self._loaded:  # the first load is the starting point, not a change
            self._announce_differences(previous, lists)
        self._loaded = True

    def _refresh(self) -> None:
        if self.path is not None and _stamp(self.path) != self._stamp:
            log.info("watchlists: %s changed on disk; reloading", self.path)
            self.load()

    def watchlists(self) -> list[Watchlist]:
        """Every valid watchlist, in file order."""
        self._refresh()
        return list(self._lists.values())

    def get(self, raw_name: str) -> Watchlist:
        """The watchlist called ``raw_name`` (case-insensitive), or NotFound."""
        name = check_name(raw_name)
        self._refresh()
        found = self._find(self._lists, name)
        if found is None:
            known = ", ".join(self._lists) or "none are configured"
            raise NotFound(ErrorCode.WATCHLIST_NOT_FOUND, f"there is no watchlist {name!r} (configured: {known})")
        return self._lists[found]

    @staticmethod
    def _find(lists: Mapping[str, object], name: str) -> str | None:
        if name in lists:
            return name
        return next((key for key in lists if key.lower() == name.lower()), None)

    # --- editing ---------------------------------------------------------------------------

    async def add(self, raw_name: str, raw_symbols: Iterable[str]) -> WatchlistChange:
        """Create the watchlist if needed and append the symbols it does not hold yet."""
        name = check_name(raw_name)
        symbols = _normalize(list(raw_symbols))
        async with self._lock:
            return await self._edit(name, lambda current: (*current, *(s for s in symbols if s not in current)))

    async def remove(self, raw_name: str, raw_symbols: Iterable[str] = ()) -> WatchlistChange:
        """Remove the symbols from the watchlist, or the whole watchlist when none are given."""
        name = check_name(raw_name)
        symbols = _normalize(list(raw_symbols))

        def without(current: tuple[str, ...]) -> tuple[str, ...] | None:
            if not symbols:
                return None
            missing = [s for s in symbols if s not in current]
            if missing:
                raise NotFound(
                    ErrorCode.WATCHLIST_NOT_FOUND,
                    f"watchlist {name!r} does not hold {', '.join(missing)} (it holds {', '.join(current) or 'nothing'})",
                    hint=f"see it with `etradectl watchlist list {name}`",
                )
            return tuple(s for s in current if s not in symbols)

        async with self._lock:
            return await self._edit(name, without, must_exist=True)

    async def _edit(
        self,
        name: str,
        change: Edit,
        *,
        must_exist: bool = False,
    ) -> WatchlistChange:
        if self.path is None:
            lists = dict(self._lists)
            key = self._find(lists, name)
            outcome = self._apply(lists, key, name, change, must_exist)
            self._lists = lists
        else:
            outcome = await asyncio.to_thread(self._edit_file, self.path, name, change, must_exist)
        if outcome.change != "unchanged" and self._events is not None:
            self._events.publish(EventKind.WATCHLIST_CHANGED, outcome.name, change=outcome.change)
        return outcome

    def _apply(
        self, lists: dict[str, Watchlist], key: str | None, name: str, change: Edit, must_exist: bool
    ) -> WatchlistChange:
        if key is None:
            if must_exist:
                known = ", ".join(lists) or "none are configured"
                raise NotFound(ErrorCode.WATCHLIST_NOT_FOUND, f"there is no watchlist {name!r} (configured: {known})")
            if len(lists) >= MAX_WATCHLISTS:
                raise InvalidRequest(
                    ErrorCode.INVALID_WATCHLIST, f"there are already {MAX_WATCHLISTS} watchlists; remove one first"
                )
        current = lists[key].symbols if key is not None else ()
        updated = change(current)
        name = key or name
        if updated is None:
            del lists[name]
            return WatchlistChange(name, "deleted", None)
        if len(updated) > MAX_SYMBOLS:
            raise InvalidRequest(
                ErrorCode.INVALID_WATCHLIST,
                f"watchlist {name!r} would hold {len(updated)} symbols; a watchlist holds at most {MAX_SYMBOLS}",
            )
        watchlist = Watchlist(name, tuple(updated))
        if key is not None and updated == current:
            return WatchlistChange(name, "unchanged", watchlist)
        lists[name] = watchlist
        return WatchlistChange(name, "updated" if key is not None else "created", watchlist)

    def _edit_file(self, path: Path, name: str, change: Edit, must_exist: bool) -> WatchlistChange:
        """Read, change one entry, write atomically. Runs on a worker thread under the lock."""
        try:
            # newline="": keep the file's own line endings (a Windows editor's CRLF stays CRLF).
            text = ""
            if path.exists():
                with path.open(encoding="utf-8", newline="") as fh:
                    text = fh.read()
            document = tomlkit.parse(text)
        except (OSError, UnicodeDecodeError, tomlkit.exceptions.ParseError) as exc:
            raise InvalidRequest(
                ErrorCode.CONFIG_FILE_PROBLEM, f"cannot read {path} to change the watchlists: {exc}"
            ) from None
        table = document.get(TABLE)
        if table is None:
            table = tomlkit.table()
            table.add(tomlkit.comment(_HEADER))
            document.add(TABLE, table)
        elif not isinstance(table, Table | InlineTable | OutOfOrderTableProxy):  # the last: dotted keys
            raise InvalidRequest(
                ErrorCode.CONFIG_FILE_PROBLEM,
                f"{path}: {TABLE} must be a table such as [{TABLE}] with name = [symbols]",
            )
        lists, problems = parse_table(table.unwrap(), str(path))
        key = self._find(table, name)
        if key is not None and key not in lists:
            bad = next((p for p in problems if f"{TABLE}.{key}:" in p), f"{path}: {TABLE}.{key} is invalid")
            raise InvalidRequest(ErrorCode.CONFIG_FILE_PROBLEM, bad)
        outcome = self._apply(lists, key, name, change, must_exist)
        if outcome.change == "unchanged":
            return outcome
        existing = table.get(outcome.name)
        if outcome.watchlist is None:
            del table[outcome.name]
        elif not (isinstance(existing, Array) and _edit_in_place(existing, outcome.watchlist.symbols)):
            table[outcome.name] = list(outcome.watchlist.symbols)
        written = document.as_string()
        if "\r\n" in text:
            written = written.replace("\r\n", "\n").replace("\n", "\r\n")
        try:
            atomic_write_text(path, written)
        except OSError as exc:
            raise InvalidRequest(ErrorCode.CONFIG_FILE_PROBLEM, f"cannot write {path}: {exc.strerror or exc}") from None
        log.info("watchlists: %s %s in %s", outcome.change, outcome.name, path)
        self._lists, self.problems, self._stamp = lists, problems, _stamp(path)
        return outcome

    def _announce_differences(self, before: Mapping[str, Watchlist], after: Mapping[str, Watchlist]) -> None:
        if self._events is None:
            return
        for name in after:
            if name not in before:
                self._events.publish(EventKind.WATCHLIST_CHANGED, name, change="created")
            elif before[name] != after[name]:
                self._events.publish(EventKind.WATCHLIST_CHANGED, name, change="updated")
        for name in before:
            if name not in after:
                self._events.publish(EventKind.WATCHLIST_CHANGED, name, change="deleted")
