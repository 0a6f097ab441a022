from __future__ import annotations

import sys
from pathlib import Path

import pytest

from daemon import notify

pytestmark = pytest.mark.skipif(sys.platform == "darwin", reason="covers the Linux notify-send path")


def fake_notify_send(directory: Path, exit_status: int = 0) -> Path:
    """An executable named notify-send that records its arguments, as the real one would show them."""
    record = directory / "shown.txt"
    script = directory / "notify-send"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{record}"\nexit {exit_status}\n')
    script.chmod(0o755)
    return record


def test_without_a_graphical_session_nothing_is_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = fake_notify_send(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert notify.available() is False
    assert notify.notify("title", "body") is False
    assert not record.exists()


def test_with_a_session_the_title_and_body_reach_notify_send(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = fake_notify_send(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("DISPLAY", ":0")
    assert notify.available() is True
    assert notify.notify("E*TRADE login needed", "run `etradectl auth login`; $(rm -rf x)") is True
    shown = record.read_text().splitlines()
    assert shown[-2:] == ["E*TRADE login needed", "run `etradectl auth login`; $(rm -rf x)"]


def test_a_failing_notifier_is_reported_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_notify_send(tmp_path, exit_status=1)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("DISPLAY", ":0")
    assert notify.notify("t", "b") is False
