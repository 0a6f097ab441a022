"""Desktop notifications: a real ``dbus-daemon --session`` and a notification server on it that
records each ``Notify`` call, as a desktop's would show it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from daemon import notify

pytestmark = pytest.mark.skipif(sys.platform == "darwin", reason="covers the Linux D-Bus path")

needs_dbus = pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="dbus-daemon is not installed here")


@dataclass
class NotificationServer:
    """org.freedesktop.Notifications on a bus: records the arguments of every Notify call."""

    address: str
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    def serve(self) -> None:
        from jeepney import MessageType, new_method_return
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
                if header.message_type == MessageType.method_call and message.header.fields.get(3) == "Notify":
                    self.calls.append(tuple(message.body))
                    connection.send(new_method_return(message, "u", (len(self.calls),)))


@pytest.fixture
def session_bus(tmp_path: Path) -> Iterator[str]:
    socket = tmp_path / "bus"
    address = f"unix:path={socket}"
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


@pytest.fixture
def notification_server(session_bus: str) -> Iterator[NotificationServer]:
    server = NotificationServer(session_bus)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    assert server.ready.wait(timeout=10), "the notification server did not claim its name"
    try:
        yield server
    finally:
        server.stop.set()
        thread.join(timeout=10)


def test_without_a_session_bus_nothing_is_shown(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # no bus socket in it
    assert notify.session_bus_address() is None
    assert notify.available() is False
    assert notify.notify("title", "body") is False


def test_the_systemd_user_bus_is_found_without_the_variable(tmp_path: Path) -> None:
    (tmp_path / "bus").touch()
    assert notify.session_bus_address({"XDG_RUNTIME_DIR": str(tmp_path)}) == f"unix:path={tmp_path / 'bus'}"


@needs_dbus
def test_a_notification_is_a_dbus_call_with_the_text_as_arguments_not_a_process(
    notification_server: NotificationServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", notification_server.address)
    # A notify-send on PATH must not be used: the text would be in its argv.
    spy = tmp_path / "notify-send"
    spy.write_text(f"#!/bin/sh\ntouch {tmp_path / 'spawned'}\n")
    spy.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert notify.available() is True
    assert notify.notify("E*TRADE login needed", "run `etradectl auth login`; $(rm -rf x)") is True
    [call] = notification_server.calls
    app, replaces, _icon, title, body, actions, _hints, expire = call
    assert (app, replaces, title, body, actions, expire) == (
        "etrade-mcp",
        0,
        "E*TRADE login needed",
        "run `etradectl auth login`; $(rm -rf x)",
        [],
        -1,
    )
    assert not (tmp_path / "spawned").exists()


@needs_dbus
def test_a_bus_without_a_notification_server_is_reported_not_raised(
    session_bus: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session_bus)
    assert notify.notify("t", "b", timeout=5) is False  # the bus answers ServiceUnknown


def test_a_dead_bus_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'nobody-listens'}")
    assert notify.notify("t", "b") is False


def test_applescript_strings_are_escaped_so_text_cannot_become_script() -> None:
    assert notify.applescript_string('a "quoted" \\ end') == '"a \\"quoted\\" \\\\ end"'
