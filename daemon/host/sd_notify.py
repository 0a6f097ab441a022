"""systemd's readiness protocol (``sd_notify``), for the user unit's ``Type=notify``.

With ``Type=notify`` systemd considers the daemon started only when it says ``READY=1``, which we
send once the socket is bound: ``systemctl --user start etrade-daemon`` then returns when clients
can connect, and a daemon that fails before binding counts as a failed start. Outside systemd
``NOTIFY_SOCKET`` is unset and every call is a no-op. The protocol is one datagram on a unix
socket; a few lines of the standard library instead of a dependency on libsystemd.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def notify(state: str, *, environ: dict[str, str] | None = None) -> bool:
    """Send ``state`` (e.g. ``"READY=1"``) to systemd; False when not under systemd or it failed."""
    address = (environ if environ is not None else os.environ).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket (Linux)
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode("utf-8"))
    except OSError as exc:
        log.warning("sd_notify: could not tell systemd %r (%s)", state.split("=")[0], exc.strerror or exc)
        return False
    return True


def ready(status: str = "") -> bool:
    return notify("READY=1" + (f"\nSTATUS={status}" if status else ""))


def stopping() -> bool:
    return notify("STOPPING=1")
