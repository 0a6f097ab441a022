"""Desktop notifications for the human at the machine (login reminders, confirmation codes).

Best effort: ``osascript`` on macOS, ``notify-send`` on Linux when a graphical session exists.
Never raises and never blocks the event loop for long; returns whether a notification was shown.
What is shown goes to the desktop only, never to a log.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys

log = logging.getLogger(__name__)

APP_NAME = "etrade-mcp"


def available() -> bool:
    """Whether this machine has a desktop notification mechanism we can use."""
    if sys.platform == "darwin":
        return shutil.which("osascript") is not None
    has_session = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return has_session and shutil.which("notify-send") is not None


def _command(title: str, body: str) -> list[str] | None:
    if sys.platform == "darwin":
        osascript = shutil.which("osascript")
        if osascript is None:
            return None
        # Passed as argv to AppleScript, never interpolated into the script text.
        script = "on run argv\ndisplay notification (item 2 of argv) with title (item 1 of argv)\nend run"
        return [osascript, "-e", script, title, body]
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return None
    notify_send = shutil.which("notify-send")
    if notify_send is None:
        return None
    return [notify_send, "--app-name", APP_NAME, title, body]


def notify(title: str, body: str, *, timeout: float = 5.0) -> bool:
    """Show a desktop notification; False when the platform has none or it failed."""
    command = _command(title, body)
    if command is None:
        return False
    try:
        result = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("notify: the desktop notification failed (%s)", type(exc).__name__)
        return False
    if result.returncode != 0:
        log.info("notify: the desktop notification failed (exit status %d)", result.returncode)
        return False
    return True
