"""A client that may open the daemon's socket (in protected mode: any member of the clients' group)
holds idle connections: the operator must still reach the daemon.

The daemon runs with a descriptor limit like systemd's default soft limit, lowered so the test
stays small; the connections are real, on the daemon's real socket.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.processes import Proc, child_env, etradectl, start_emulator

pytestmark = [
    pytest.mark.skipif(
        shutil.which("prlimit") is None, reason="needs prlimit (util-linux) to lower the daemon's limit"
    ),
]

#: The daemon's soft descriptor limit here (systemd gives services 1024 by default).
DESCRIPTORS = 256
LOW_LIMIT = ("prlimit", f"--nofile={DESCRIPTORS}:4096")


@contextlib.contextmanager
def held_connections(path: Path, count: int) -> Iterator[int]:
    """Open ``count`` connections to ``path`` (fewer if the daemon stops accepting) and hold them."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            conn = socket.socket(socket.AF_UNIX)
            conn.settimeout(5)
            try:
                conn.connect(str(path))
            except OSError:
                conn.close()
                break
            held.append(conn)
        yield len(held)
    finally:
        for conn in held:
            conn.close()


def test_idle_connections_of_one_client_do_not_lock_the_operator_out() -> None:
    base = Path(tempfile.mkdtemp(prefix="etm-flood-"))
    env = child_env(base)
    emulator, url = start_emulator(env)
    daemon: Proc | None = None
    try:
        sock = base / "run" / "b.sock"
        daemon = Proc(
            [
                *LOW_LIMIT,
                sys.executable,
                "-m",
                "daemon",
                "--environment",
                "emulator",
                "--emulator-url",
                url,
                "--socket",
                str(sock),
            ],
            env,
            stdout=None,
        )
        daemon.wait_for_stderr(r"server: listening on")
        assert etradectl(env, sock, "status").code != 3  # reachable before
        with held_connections(sock, DESCRIPTORS + 100) as held:
            assert held > 0
            during = etradectl(env, sock, "status", timeout=60)
        assert daemon.popen.poll() is None, "the daemon died"
        assert etradectl(env, sock, "status").code != 3, "still unreachable after the connections closed"
        assert during.code != 3, (
            f"with {held} idle connections held, the operator cannot reach the daemon: {during.stderr}"
        )
    finally:
        if daemon is not None:
            daemon.kill()
        emulator.kill()
        shutil.rmtree(base, ignore_errors=True)
