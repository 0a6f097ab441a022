"""The mark that tells a new daemon whether its predecessor may still count against E*TRADE's limits."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from daemon.gateway.sender_mark import MARK_NAME, mark_sending, mark_stopped, predecessor_is_quiet

QUIET = 1.2


def test_no_mark_means_no_daemon_served_from_here(tmp_path: Path) -> None:
    assert predecessor_is_quiet(tmp_path, 1000.0, QUIET)


def test_a_daemon_still_marked_sending_did_not_stop_cleanly(tmp_path: Path) -> None:
    mark_sending(tmp_path)  # then a crash, SIGKILL or power cut: nobody wrote the stop
    assert not predecessor_is_quiet(tmp_path, 1e12, QUIET)
    assert stat.S_IMODE(os.stat(tmp_path / MARK_NAME).st_mode) == 0o600


@pytest.mark.parametrize(
    ("stopped_ago", "quiet"),
    [(QUIET, True), (60.0, True), (QUIET - 0.01, False), (0.0, False), (-5.0, False)],
    ids=["just-refilled", "long-ago", "not-yet-refilled", "just-now", "in-the-future"],
)
def test_a_clean_stop_is_quiet_once_the_allowance_has_refilled(tmp_path: Path, stopped_ago: float, quiet: bool) -> None:
    mark_sending(tmp_path)
    mark_stopped(tmp_path, 1000.0)
    assert predecessor_is_quiet(tmp_path, 1000.0 + stopped_ago, QUIET) is quiet


@pytest.mark.parametrize("content", ["", "not json", "[]", '{"stopped_at": "yesterday"}', '{"stopped_at": true}'])
def test_a_mark_that_cannot_be_read_is_not_proof_of_quiet(tmp_path: Path, content: str) -> None:
    (tmp_path / MARK_NAME).write_text(content)
    assert not predecessor_is_quiet(tmp_path, 1e12, QUIET)


def test_a_mark_that_cannot_be_written_leaves_no_stale_proof_of_quiet(tmp_path: Path) -> None:
    mark_sending(tmp_path)
    mark_stopped(tmp_path, 1000.0)
    # The temporary file's name taken by a directory: the write fails, the old "stopped" must not stay.
    (tmp_path / f".{MARK_NAME}.{os.getpid()}").mkdir()
    mark_sending(tmp_path)
    assert not predecessor_is_quiet(tmp_path, 1e12, QUIET)
