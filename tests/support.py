"""Helpers shared by the tests: short socket paths, the real OAuth dance against the emulator."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from emulator.local_system import read_verifier

if TYPE_CHECKING:
    from emulator import Emulator


@contextmanager
def short_tmp_dir() -> Iterator[Path]:
    """A private directory with a short path: unix socket paths must stay under ~100 bytes."""
    path = Path(tempfile.mkdtemp(prefix="etm-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


__all__ = ["read_verifier", "requests_to", "short_tmp_dir"]


def requests_to(emulator: Emulator, route: str) -> int:
    """How many requests the emulator has served on a route (e.g. ``quote``, ``access_token``)."""
    return emulator.stats()["requests_by_route"].get(route, 0)
