"""Desktop notifications: a real ``dbus-daemon --session`` and a notification server on it that
records each ``Notify`` call, as a desktop's would show it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.host import notify
from tests.harness.dbus_session import NotificationServer, needs_dbus, notification_server, session_bus

pytestmark = pytest.mark.skipif(sys.platform == "darwin", reason="covers the Linux D-Bus path")


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[str]:
    with session_bus(tmp_path) as address:
        yield address


@pytest.fixture
def notifications(bus: str) -> Iterator[NotificationServer]:
    with notification_server(bus) as server:
        yield server


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
    notifications: NotificationServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", notifications.address)
    # A notify-send on PATH must not be used: the text would be in its argv.
    spy = tmp_path / "notify-send"
    spy.write_text(f"#!/bin/sh\ntouch {tmp_path / 'spawned'}\n")
    spy.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert notify.available() is True
    assert notify.notify("E*TRADE login needed", "run `etradectl auth login`; $(rm -rf x)") is True
    [call] = notifications.calls
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
def test_a_bus_without_a_notification_server_is_reported_not_raised(bus: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus)
    assert notify.notify("t", "b", timeout=5) is False  # the bus answers ServiceUnknown


def test_a_dead_bus_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'nobody-listens'}")
    assert notify.notify("t", "b") is False


def test_applescript_strings_are_escaped_so_text_cannot_become_script() -> None:
    assert notify.applescript_string('a "quoted" \\ end') == '"a \\"quoted\\" \\\\ end"'
