"""Root never talks to a socket that someone else could replace, the token book holds each uid to
its own share, and a daemon that stops accepting connections is not reported as stopped.

Real directories, real sockets and real processes; ``os.geteuid`` is patched only to ask "what
would root do" of code that runs as whoever runs the tests.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker_client import paths
from broker_client.channel import _listener_behind
from broker_client.client import BrokerClient
from broker_client.errors import DaemonUnavailable, ErrorCode
from cli.main import _root_safe_arguments
from daemon.rpc import peercred
from daemon.rpc.authority import MAX_TOKENS_PER_UID, TokenBook

pytestmark = pytest.mark.anyio


def private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700)
    path.chmod(0o700)
    return path


def test_root_refuses_a_socket_whose_directory_others_may_write(short_dir: Path) -> None:
    shared = short_dir / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: anyone could have put the socket there first
    reason = paths.root_socket_refusal(shared / "etrade.sock")
    assert reason is not None and str(shared) in reason and "writable by others" in reason
    group = private_dir(short_dir / "group")
    group.chmod(0o770)
    reason = paths.root_socket_refusal(group / "etrade.sock")
    assert reason is not None and "writable by its group" in reason


def test_root_accepts_a_private_directory_below_a_sticky_one(short_dir: Path) -> None:
    # short_dir is a private directory in /tmp: nobody else may rename or remove it.
    run = private_dir(short_dir / "run")
    assert paths.root_socket_refusal(run / "etrade.sock") is None


def test_root_refuses_a_link_into_a_shared_directory(short_dir: Path) -> None:
    shared = short_dir / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    link = short_dir / "looks-private"
    link.symlink_to(shared)
    reason = paths.root_socket_refusal(link / "etrade.sock")
    assert reason is not None and str(shared) in reason


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory to another uid")
def test_root_refuses_a_directory_of_a_user_who_does_not_own_the_socket(short_dir: Path) -> None:
    theirs = private_dir(short_dir / "theirs")
    os.chown(theirs, 4242, 4242)
    mine = private_dir(theirs / "run")
    reason = paths.root_socket_refusal(mine / "etrade.sock")
    assert reason is not None and "uid 4242" in reason and str(theirs) in reason


async def test_root_client_refuses_the_socket_before_connecting(
    short_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = short_dir / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    async with BrokerClient(shared / "b.sock") as broker:
        with pytest.raises(DaemonUnavailable) as caught:
            await broker.list_accounts()
    assert caught.value.code is ErrorCode.DAEMON_PERMISSION_DENIED
    assert str(shared) in caught.value.message and "writable by others" in caught.value.message


def test_the_sudo_hint_leaves_out_a_socket_root_would_refuse(short_dir: Path) -> None:
    shared = short_dir / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    bad = shared / "b.sock"
    assert _root_safe_arguments(["--socket", str(bad), "orders", "pending"], bad) == ["orders", "pending"]
    assert _root_safe_arguments([f"--socket={bad}", "resume"], bad) == ["resume"]
    good = private_dir(short_dir / "run") / "b.sock"
    assert _root_safe_arguments(["--socket", str(good), "resume"], good) == ["--socket", str(good), "resume"]


def test_one_uid_fills_only_its_own_share_of_the_book() -> None:
    book = TokenBook()
    me = peercred.PeerCredentials(uid=os.getuid(), gid=os.getgid(), pid=os.getpid())
    mine = book.issue(me)
    assert book.issue(me) == mine  # the same process asking again gets the same token
    flooder = os.getuid() + 4242
    for pid in range(10_000, 10_000 + 10 * MAX_TOKENS_PER_UID):
        book.issue(peercred.PeerCredentials(uid=flooder, gid=flooder, pid=pid))
    assert len(book) <= MAX_TOKENS_PER_UID + 1
    assert book.resolve(mine) is not None


def test_a_process_gets_a_fresh_token_after_half_its_life() -> None:
    now = [0.0]
    book = TokenBook(ttl=100.0, clock=lambda: now[0])
    me = peercred.PeerCredentials(uid=os.getuid(), gid=os.getgid(), pid=os.getpid())
    first = book.issue(me)
    now[0] = 49.0
    assert book.issue(me) == first
    now[0] = 51.0
    second = book.issue(me)
    assert second != first and book.resolve(first) is None and book.resolve(second) is not None
    assert len(book) == 1


@contextlib.contextmanager
def listener(path: Path) -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(0)
    try:
        yield server
    finally:
        server.close()


def test_a_full_accept_queue_is_told_from_a_stopped_daemon(short_dir: Path) -> None:
    path = short_dir / "b.sock"
    queued: list[socket.socket] = []
    with listener(path):
        assert _listener_behind(path) is True
        # Nobody accepts (as when the daemon is out of descriptors): the queue fills.
        for _ in range(8):
            conn = socket.socket(socket.AF_UNIX)
            conn.setblocking(False)
            if conn.connect_ex(str(path)) != 0:
                conn.close()
                break
            queued.append(conn)
        assert _listener_behind(path) is False
        message = BrokerClient(path).unreachable().message
        assert "not accepting connections" in message and "file descriptors" in message
    for conn in queued:
        conn.close()
    assert path.exists() and _listener_behind(path) is None  # the socket file stays; nobody listens
    assert "it stopped" in BrokerClient(path).unreachable().message


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc/self/fd (Linux)")
def test_a_grant_holds_its_process_descriptor_only_while_it_lives() -> None:
    book = TokenBook()
    before = open_descriptors()
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        token = book.issue(peercred.PeerCredentials(uid=os.getuid(), gid=os.getgid(), pid=child.pid))
        assert book.resolve(token) is not None
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(30)
    assert book.resolve(token) is None  # exited: its pid may go to anyone now
    assert open_descriptors() == before and len(book) == 0


def test_a_missing_directory_is_judged_by_who_could_create_it(short_dir: Path) -> None:
    assert paths.root_socket_refusal(short_dir / "not-yet" / "run" / "b.sock") is None
    shared = short_dir / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    reason = paths.root_socket_refusal(shared / "not-yet" / "b.sock")
    assert reason is not None and str(shared) in reason
