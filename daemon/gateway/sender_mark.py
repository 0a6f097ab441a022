"""Whether a predecessor may still count against E*TRADE's rate limits: a mark in the state directory.

E*TRADE counts requests per consumer key, whichever process sends them. While a daemon serves, its
mark says so ("sending"); a clean stop replaces that with the time it stopped. The next daemon's rate
limiter starts full only when its predecessor is proven quiet — the mark says it stopped at least
``quiet_seconds`` ago (the time its allowance takes to refill) — or when there is no mark at all (no
daemon has served from this state directory). A mark that still says "sending" (a crash, SIGKILL, a
power cut), one that cannot be read, or a stop that is recent or in the future (the clock stepped
back) leaves the limiter empty, as if the predecessor had used the whole allowance the instant
before (``daemon/gateway/ratelimit.py``).

Wall-clock time, because the mark outlives the process. It is written twice per daemon lifetime,
under the instance lock, never per request.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

MARK_NAME = "upstream-sender.json"


def predecessor_is_quiet(state_dir: Path, now: float, quiet_seconds: float) -> bool:
    """True when no daemon served from ``state_dir`` or the last one stopped ``quiet_seconds`` ago."""
    path = state_dir / MARK_NAME
    try:
        mark = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return True
    except (OSError, ValueError):
        return False
    stopped_at = mark.get("stopped_at") if isinstance(mark, dict) else None
    if not isinstance(stopped_at, int | float) or isinstance(stopped_at, bool):
        return False  # still "sending": it did not stop cleanly
    return now - stopped_at >= quiet_seconds  # a stop in the future (the clock stepped back) is recent


def mark_sending(state_dir: Path) -> None:
    """Say that a daemon serves (and may send) from ``state_dir``."""
    _write(state_dir, {"sending": True, "pid": os.getpid()})


def mark_stopped(state_dir: Path, now: float) -> None:
    """Say that the daemon serving from ``state_dir`` stopped sending at ``now``."""
    _write(state_dir, {"stopped_at": now})


def _write(state_dir: Path, mark: dict[str, object]) -> None:
    path = state_dir / MARK_NAME
    temporary = path.with_name(f".{MARK_NAME}.{os.getpid()}")
    try:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(mark, out)
        os.replace(temporary, path)
    except OSError as exc:
        # An old "stopped" mark must not outlive this failure, and removing it would read as "no daemon
        # ever ran" (start full): overwrite it with something unreadable, which starts the next one empty.
        log.warning("rate limits: could not write %s (%s); the next daemon starts its limiter empty", path, exc)
        with contextlib.suppress(OSError):
            path.write_text("unreadable", encoding="utf-8")
