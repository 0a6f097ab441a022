"""Helpers shared by the tests: short socket paths, the real OAuth dance against the emulator."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


__all__ = ["admin", "read_verifier", "requests_to", "short_tmp_dir"]


def requests_to(emulator: Emulator, route: str) -> int:
    """How many requests the emulator has served on a route (e.g. ``quote``, ``access_token``)."""
    return emulator.stats()["requests_by_route"].get(route, 0)


def admin(base_url: str, path: str, body: dict[str, Any] | None = None, *, method: str | None = None) -> Any:
    """Call the emulator's admin interface (``/_emulator/...``) over HTTP; returns the JSON answer."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        f"{base_url}/_emulator/{path.lstrip('/')}", data=data, method=method or ("GET" if data is None else "POST")
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read().decode("utf-8") or "{}")


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Bounded polling of state another process owns (an emulator counter, a file): fails naming ``what``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)
