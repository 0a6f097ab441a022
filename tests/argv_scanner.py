"""A watcher of every process's command line and environment, for "nothing secret in argv" tests.

It reads ``/proc/*/cmdline`` and ``/proc/*/environ`` over and over in a thread while a test runs,
the way another local user (cmdline) or a same-user program (environ) could, and keeps every
distinct string it saw. Short-lived processes (an etradectl run) are caught because a run lasts
far longer than one pass over /proc. ``seen_argv`` lets a test prove the watcher saw its processes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ProcScanner:
    argv: set[str] = field(default_factory=set)
    environ: set[str] = field(default_factory=set)
    passes: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _read(self, path: Path) -> list[str]:
        try:
            raw = path.read_bytes()
        except OSError:  # gone, or not ours to read
            return []
        return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]

    def scan_once(self) -> None:
        own = str(os.getpid())
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or entry.name == own:
                continue
            base = Path(entry.path)
            parts = self._read(base / "cmdline")
            if parts:
                self.argv.add(" ".join(parts))
            self.environ.update(self._read(base / "environ"))
        self.passes += 1

    def run(self) -> None:
        while not self._stop.is_set():
            self.scan_once()
            # A pause between passes so the processes under test get the CPU; not a synchronisation.
            self._stop.wait(0.002)

    def seen_argv(self, *words: str) -> list[str]:
        return [line for line in self.argv if all(word in line for word in words)]

    def leaks(self, secrets: Iterable[str]) -> list[str]:
        """Where any of ``secrets`` (and their forms without dashes) appeared: empty when nowhere."""
        found = []
        for secret in secrets:
            forms = {secret, secret.replace("-", "")}
            for form in forms:
                found += [f"argv: {line[:200]}" for line in self.argv if form in line]
                found += [f"environ: {line.split('=', 1)[0]}=…" for line in self.environ if form in line]
        return found


@contextmanager
def scanning() -> Iterator[ProcScanner]:
    scanner = ProcScanner()
    thread = threading.Thread(target=scanner.run, daemon=True)
    thread.start()
    try:
        yield scanner
    finally:
        scanner._stop.set()
        thread.join(timeout=10)
        scanner.scan_once()
