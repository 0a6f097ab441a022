"""The socket: private, single-instance, self-healing after a crash."""

from __future__ import annotations

import contextlib
import os
import socket as socketlib
import stat
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from broker_client.client import BrokerClient
from broker_client.errors import DaemonUnavailable, ErrorCode
from daemon.app import build_app
from daemon.rpc.server import StartupError, start_server
from daemon.secret_store import MemorySecretStore
from emulator import Emulator
from tests.harness.daemons import RunningDaemon, daemon_settings

pytestmark = pytest.mark.anyio


async def test_socket_is_0600_inside_a_0700_directory(daemon: RunningDaemon) -> None:
    assert stat.S_IMODE(daemon.socket.stat().st_mode) == 0o600
    assert stat.S_IMODE(daemon.socket.parent.stat().st_mode) == 0o700
    assert stat.S_ISSOCK(daemon.socket.stat().st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as a second, unprivileged user")
async def test_another_user_cannot_connect(daemon: RunningDaemon) -> None:
    # As root we can become `nobody` in a child and try the socket for real.
    probe = (
        "import os, socket, sys\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n    s.connect(sys.argv[1])\nexcept PermissionError:\n    print('denied')\nelse:\n    print('connected')\n"
    )
    result = await anyio.to_thread.run_sync(
        lambda: subprocess.run(
            [sys.executable, "-c", probe, str(daemon.socket)], capture_output=True, text=True, timeout=30
        )
    )
    assert result.stdout.strip() == "denied", result.stderr


async def test_a_second_daemon_on_the_same_socket_refuses_to_start(daemon: RunningDaemon) -> None:
    app = await build_app(daemon_settings(daemon.emulator), store=MemorySecretStore())
    try:
        with pytest.raises(StartupError) as caught:
            await start_server(app, daemon.socket)
    finally:
        await app.close()
    assert "already running" in caught.value.message
    assert str(os.getpid()) in caught.value.message
    # ...and the first daemon still answers on its socket.
    async with daemon.client() as client:
        status = await client.get_status()
    assert status.environment == "emulator"


async def test_a_stale_socket_from_a_crash_is_replaced(emulator: Emulator, short_dir: Path) -> None:
    run = short_dir / "run"
    run.mkdir(mode=0o700)
    stale = run / "broker.sock"
    leftover = socketlib.socket(socketlib.AF_UNIX)
    leftover.bind(str(stale))
    leftover.close()  # a socket file nobody listens on, as after kill -9
    app = await build_app(daemon_settings(emulator), store=MemorySecretStore())
    server, lock = await start_server(app, stale)
    try:
        async with BrokerClient(stale) as client:
            assert (await client.get_status()).environment == "emulator"
    finally:
        await server.stop(None)
        await app.close()
        lock.release()


async def test_a_group_readable_socket_directory_is_tightened(emulator: Emulator, short_dir: Path) -> None:
    run = short_dir / "run"
    run.mkdir()
    os.chmod(run, 0o755)
    app = await build_app(daemon_settings(emulator), store=MemorySecretStore())
    server, lock = await start_server(app, run / "broker.sock")
    try:
        assert stat.S_IMODE(run.stat().st_mode) == 0o700
    finally:
        await server.stop(None)
        await app.close()
        lock.release()


async def test_clients_explain_a_missing_or_stale_socket(short_dir: Path) -> None:
    async with BrokerClient(short_dir / "nothing.sock") as client:
        with pytest.raises(DaemonUnavailable) as caught:
            await client.get_status()
    assert caught.value.code is ErrorCode.DAEMON_UNAVAILABLE
    assert "not running" in caught.value.message
    assert "etrade-daemon" in caught.value.hint

    stale = short_dir / "stale.sock"
    leftover = socketlib.socket(socketlib.AF_UNIX)
    leftover.bind(str(stale))
    leftover.close()
    async with BrokerClient(stale) as client:
        with pytest.raises(DaemonUnavailable) as caught:
            await client.get_status()
    assert "not answering" in caught.value.message


async def test_an_over_long_socket_path_is_refused_clearly(emulator: Emulator, short_dir: Path) -> None:
    app = await build_app(daemon_settings(emulator), store=MemorySecretStore())
    try:
        with pytest.raises(StartupError) as caught:
            await start_server(app, short_dir / ("d" * 120) / "broker.sock")
    finally:
        await app.close()
    assert "bytes" in caught.value.message


def pidfds() -> int:
    """This process's open pidfds (how the identity book binds each token to its process)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the descriptor listdir itself used, closed meanwhile
            count += os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[pidfd]"
    return count


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="tokens are bound by pidfds on Linux only")
async def test_a_stopped_daemon_closes_the_pidfds_of_its_identity_tokens(emulator: Emulator, short_dir: Path) -> None:
    before = pidfds()
    app = await build_app(daemon_settings(emulator), store=MemorySecretStore())
    server, lock = await start_server(app, short_dir / "run" / "broker.sock")
    try:
        async with BrokerClient(short_dir / "run" / "broker.sock") as client:
            await client.get_status()  # the handshake: a token bound to this process by a pidfd
        serving = pidfds()
    finally:
        await server.stop(None)
        await app.close()
        lock.release()
    assert serving > before
    assert pidfds() == before
