"""Desktop notifications for the human at the machine (login reminders, halts, optionally codes).

Linux: a ``Notify`` call to ``org.freedesktop.Notifications`` on the session bus, made in-process
with ``jeepney`` — no child process, so the text never appears in any process's argv, which every
local user can read in ``/proc/*/cmdline``. macOS: ``osascript`` reading its script from stdin
(the text goes through a pipe, never argv); best effort.

Invariants: never raises, never blocks the event loop for longer than ``timeout``, returns whether
a notification was shown, and what is shown goes to the desktop only, never to a log.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

APP_NAME = "etrade-mcp"

NOTIFICATIONS_PATH = "/org/freedesktop/Notifications"
NOTIFICATIONS_NAME = "org.freedesktop.Notifications"
# The server picks how long the notification stays.
EXPIRE_DEFAULT = -1


def session_bus_address(environ: dict[str, str] | None = None) -> str | None:
    """The session bus: ``DBUS_SESSION_BUS_ADDRESS``, else systemd's per-user ``$XDG_RUNTIME_DIR/bus``."""
    env = os.environ if environ is None else environ
    address = env.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and (Path(runtime) / "bus").exists():
        return f"unix:path={Path(runtime) / 'bus'}"
    return None


def available() -> bool:
    """Whether this machine has a desktop notification mechanism we can use."""
    if sys.platform == "darwin":
        return shutil.which("osascript") is not None
    return session_bus_address() is not None


def applescript_string(text: str) -> str:
    """``text`` as an AppleScript string literal (backslash and double quote escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _notify_macos(title: str, body: str, timeout: float) -> bool:
    osascript = shutil.which("osascript")
    if osascript is None:
        return False
    # The script, text included, goes through stdin: `osascript` with no arguments reads it there.
    script = f"display notification {applescript_string(body)} with title {applescript_string(title)}\n"
    try:
        result = subprocess.run([osascript], input=script.encode("utf-8"), capture_output=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("notify: the desktop notification failed (%s)", type(exc).__name__)
        return False
    if result.returncode != 0:
        log.info("notify: the desktop notification failed (exit status %d)", result.returncode)
        return False
    return True


def _notify_dbus(address: str, title: str, body: str, timeout: float) -> bool:
    from jeepney import DBusAddress, HeaderFields, MessageType, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    target = DBusAddress(NOTIFICATIONS_PATH, bus_name=NOTIFICATIONS_NAME, interface=NOTIFICATIONS_NAME)
    # Notify(app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout)
    call = new_method_call(target, "Notify", "susssasa{sv}i", (APP_NAME, 0, "", title, body, [], {}, EXPIRE_DEFAULT))
    try:
        with open_dbus_connection(bus=address) as connection:
            reply = connection.send_and_get_reply(call, timeout=timeout)
    except Exception as exc:  # any transport or protocol failure: the notification is best effort
        log.info("notify: the desktop notification failed (%s)", type(exc).__name__)
        return False
    if reply.header.message_type == MessageType.error:
        log.info(
            "notify: the desktop notification failed (%s)",
            reply.header.fields.get(HeaderFields.error_name, "a D-Bus error"),
        )
        return False
    return True


def notify(title: str, body: str, *, timeout: float = 5.0) -> bool:
    """Show a desktop notification; False when the platform has none or it failed."""
    if sys.platform == "darwin":
        return _notify_macos(title, body, timeout)
    address = session_bus_address()
    if address is None:
        return False
    return _notify_dbus(address, title, body, timeout)
