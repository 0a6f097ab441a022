"""Attacks on the identity handshake by any process that may open its socket (the clients' group).

Real sockets and real processes: a victim process shakes hands and stays alive; the attacker (this
test) then shakes hands as often as it likes. A test that fails here is a hole that is still open.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from broker_client import paths
from daemon.rpc.authority import MAX_TOKENS, IdentityServer, TokenBook

pytestmark = pytest.mark.anyio

VICTIM = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
print(json.loads(s.makefile().readline())["token"], flush=True)
sys.stdin.read()  # alive until the test closes our stdin
"""


@pytest.fixture
async def identity(short_dir: Path) -> AsyncIterator[tuple[TokenBook, Path]]:
    book = TokenBook()
    server = IdentityServer(book)
    path = short_dir / "etrade.sock.auth"
    await server.start(path)
    try:
        yield book, path
    finally:
        server.close()


async def handshake(path: Path) -> str:
    reader, writer = await asyncio.open_unix_connection(str(path))
    try:
        return str(json.loads(await reader.readline())["token"])
    finally:
        writer.close()


def start_victim(path: Path) -> tuple[subprocess.Popen[str], str]:
    victim = subprocess.Popen(
        [sys.executable, "-c", VICTIM, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert victim.stdout is not None
    return victim, victim.stdout.readline().strip()


async def test_one_process_shaking_hands_over_and_over_does_not_revoke_another_processs_token(
    identity: tuple[TokenBook, Path],
) -> None:
    book, path = identity
    victim, token = await asyncio.to_thread(start_victim, path)
    try:
        assert book.resolve(token) is not None
        for _ in range(MAX_TOKENS):
            await handshake(path)
        # The victim (say, root's `etradectl orders watch`, or another user's proxy) still runs.
        assert victim.poll() is None
        assert book.resolve(token) is not None, "a clients'-group member evicted a live process's token"
    finally:
        assert victim.stdin is not None
        victim.stdin.close()
        await asyncio.to_thread(victim.wait, 30)
        if victim.stdout is not None:
            victim.stdout.close()


def test_root_prefers_the_protected_daemon_even_when_the_environment_names_another_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sudo -E etradectl`` (or an ``env_keep`` rule) brings the desktop user's ``ETRADE_MCP_SOCKET``:
    root must still talk to the protected daemon, not to a socket in a directory the user controls,
    where a fake daemon can show root a made-up order list and "confirm" nothing."""
    system = tmp_path / "system"
    system.mkdir()
    (system / paths.SYSTEM_SOCKET_NAME).touch()
    monkeypatch.setattr(paths, "SYSTEM_RUNTIME_DIR", system)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setenv(paths.SOCKET_ENV, str(tmp_path / "desktop-user" / "lair" / "etrade.sock"))
    assert paths.client_socket_path() == system / paths.SYSTEM_SOCKET_NAME
