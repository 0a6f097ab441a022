"""A real session bus for tests: ``dbus-daemon --session`` and a notification server on it that
records every ``Notify`` call's arguments, as a desktop would receive them."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from daemon.host import notify

needs_dbus = pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="dbus-daemon is not installed here")


@dataclass
class NotificationServer:
    """org.freedesktop.Notifications on a bus: records the arguments of every Notify call."""

    address: str
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    received: threading.Condition = field(default_factory=threading.Condition)

    def serve(self) -> None:
        from jeepney import HeaderFields, MessageType, new_method_return
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import open_dbus_connection

        with open_dbus_connection(bus=self.address) as connection:
            connection.send_and_get_reply(message_bus.RequestName(notify.NOTIFICATIONS_NAME), timeout=10)
            self.ready.set()
            while not self.stop.is_set():
                try:
                    message = connection.receive(timeout=0.2)
                except TimeoutError:
                    continue
                header = message.header
                if (
                    header.message_type == MessageType.method_call
                    and header.fields.get(HeaderFields.member) == "Notify"
                ):
                    with self.received:
                        self.calls.append(tuple(message.body))
                        self.received.notify_all()
                    connection.send(new_method_return(message, "u", (len(self.calls),)))

    def wait_for(self, count: int, timeout: float = 30.0, *, titled: str = "") -> list[tuple[Any, ...]]:
        """The calls once ``count`` of them have a title (argument 3) containing ``titled``."""

        def matching() -> list[tuple[Any, ...]]:
            return [call for call in self.calls if titled in call[3]]

        with self.received:
            assert self.received.wait_for(lambda: len(matching()) >= count, timeout), self.calls
            return matching()


@contextmanager
def session_bus(directory: Path) -> Iterator[str]:
    """A private session bus listening on a socket in ``directory``; yields its address."""
    address = f"unix:path={directory / 'bus'}"
    with subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", f"--address={address}", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as bus:
        try:
            assert bus.stdout is not None
            printed = bus.stdout.readline().strip()  # printed once the bus listens: no polling needed
            assert printed.startswith("unix:path="), f"dbus-daemon did not start: {printed!r}"
            yield address
        finally:
            bus.terminate()
            bus.wait(timeout=10)


@contextmanager
def notification_server(address: str) -> Iterator[NotificationServer]:
    server = NotificationServer(address)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    assert server.ready.wait(timeout=10), "the notification server did not claim its name"
    try:
        yield server
    finally:
        server.stop.set()
        thread.join(timeout=10)
