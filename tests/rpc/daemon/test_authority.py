"""Authority from the kernel: the RPC table, the identity handshake and the gate, on real sockets.

The cross-user attacks (another uid calling operator RPCs) need root and throwaway users: they are
in tests/system/test_protected_mode.py. Here: what one user can show.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import pkgutil
import socket
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2

import protos.broker.v1 as broker_v1
from broker_client import paths
from broker_client.client import BrokerClient
from broker_client.errors import ErrorCode, PolicyRefused
from broker_client.metadata_keys import CLIENT_KEY, CODE_KEY
from daemon.app import build_app
from daemon.caller import Identity
from daemon.etrade.emulator_clock import EmulatorClock
from daemon.host import protected
from daemon.rpc import peercred
from daemon.rpc.authority import CLIENT_RPCS, OPERATOR_RPCS, AuthorityGate, TokenBook, full_method
from daemon.rpc.server import Access, start_server
from daemon.secret_store import MemorySecretStore
from emulator import Emulator
from protos.broker.v1 import operator_pb2, operator_pb2_grpc
from tests.harness.daemons import RunningDaemon, daemon_settings, login

pytestmark = pytest.mark.anyio


def generated_methods() -> list[str]:
    """Every RPC of every generated service, plus the standard health service, as gRPC method paths."""
    methods = []
    for info in pkgutil.iter_modules(broker_v1.__path__):
        if not info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"protos.broker.v1.{info.name}")
        for service in module.DESCRIPTOR.services_by_name.values():
            methods += [f"/{service.full_name}/{m.name}" for m in service.methods]
    health = health_pb2.DESCRIPTOR.services_by_name["Health"]
    methods += [f"/{health.full_name}/{m.name}" for m in health.methods]
    return methods


def test_every_rpc_is_classified_exactly_once() -> None:
    table = [full_method(m) for m in CLIENT_RPCS + OPERATOR_RPCS]
    duplicated = sorted({m for m in table if table.count(m) > 1})
    assert duplicated == [], f"classified more than once: {duplicated}"
    methods = generated_methods()
    assert len(methods) > 40, "the scan found too few RPCs"
    unclassified = sorted(set(methods) - set(table))
    assert unclassified == [], f"add these to CLIENT_RPCS or OPERATOR_RPCS in daemon/rpc/authority.py: {unclassified}"
    stale = sorted(set(table) - set(methods))
    assert stale == [], f"no such RPC (renamed or removed?): {stale}"


def test_no_client_rpc_returns_a_code() -> None:
    # The only messages that carry confirmation codes are the operator's pending list and confirm.
    for short in CLIENT_RPCS:
        assert not short.startswith(("Operator/ListPending", "Operator/ConfirmPending"))


def test_the_gate_decides_from_the_kernel_uid_never_the_name() -> None:
    gate = AuthorityGate(TokenBook(), protected=True, operator_uids=frozenset({0, 990}))
    confirm = full_method("Operator/ConfirmPending")
    preview = full_method("Orders/PreviewOrder")
    desktop = Identity(uid=1000, gid=1000, pid=4242)
    assert gate.decide(preview, desktop) is None
    refusal = gate.decide(confirm, desktop)
    assert isinstance(refusal, PolicyRefused) and refusal.code is ErrorCode.OPERATOR_AUTHORITY_REQUIRED
    assert gate.decide(confirm, Identity(uid=0, gid=0, pid=1)) is None
    assert gate.decide(confirm, Identity(uid=990, gid=990, pid=1)) is None
    unknown = gate.decide(preview, None)
    assert unknown is not None and unknown.code is ErrorCode.CALLER_UNIDENTIFIED
    # An RPC nobody classified (a new one) is operator-only until someone decides otherwise.
    assert gate.decide("/etrade_mcp.broker.v1.Operator/Brand_new", desktop) is not None
    # Single-user mode refuses nothing here.
    assert AuthorityGate(TokenBook(), protected=False).decide(confirm, None) is None


def test_a_token_lives_only_as_long_as_its_process() -> None:
    now = [0.0]
    book = TokenBook(ttl=100.0, clock=lambda: now[0])
    me = peercred.PeerCredentials(uid=os.getuid(), gid=os.getgid(), pid=os.getpid())
    token = book.issue(me)
    assert book.resolve(token) == Identity(uid=me.uid, gid=me.gid, pid=me.pid)
    assert book.resolve("made-up") is None and book.resolve(None) is None
    # A pid that is not running (or was reused: another start time) resolves to nobody.
    ghost = book.issue(peercred.PeerCredentials(uid=0, gid=0, pid=2**22 + 12345))
    assert book.resolve(ghost) is None
    now[0] = 101.0
    assert book.resolve(token) is None


def test_the_kernel_names_the_peer_of_a_unix_socket() -> None:
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        peer = peercred.peer_credentials(left)
    assert (peer.uid, peer.gid, peer.pid) == (os.getuid(), os.getgid(), os.getpid())


@pytest.fixture
async def protected_daemon(emulator: Emulator, short_dir: Path) -> AsyncIterator[Path]:
    store = MemorySecretStore()
    app = await build_app(daemon_settings(emulator, read_only=False), clock=EmulatorClock(emulator.clock), store=store)
    socket_path = short_dir / "run" / "etrade.sock"
    server, lock = await start_server(app, socket_path, Access(protected=True))
    try:
        yield socket_path
    finally:
        await server.stop(grace=None)
        await app.close()
        lock.release()


async def test_protected_mode_refuses_callers_that_did_not_identify_whatever_their_name(
    protected_daemon: Path,
) -> None:
    assert stat.S_IMODE(os.stat(paths.auth_socket_path(protected_daemon)).st_mode) == 0o600
    async with grpc.aio.insecure_channel(f"unix:{protected_daemon}") as channel:
        stub = operator_pb2_grpc.OperatorStub(channel)
        for name in ("etradectl/0.1.0", "etrade-mcp/0.1.0", ""):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.ListPending(operator_pb2.ListPendingRequest(), metadata=((CLIENT_KEY, name),))
            assert dict(refused.value.trailing_metadata() or ())[CODE_KEY] == ErrorCode.CALLER_UNIDENTIFIED.value


async def test_the_handshake_gives_a_token_bound_to_the_callers_kernel_identity(protected_daemon: Path) -> None:
    reader, writer = await asyncio.open_unix_connection(str(paths.auth_socket_path(protected_daemon)))
    answer = json.loads(await reader.readline())
    writer.close()
    assert answer["uid"] == os.getuid() and answer["pid"] == os.getpid()
    # Our uid is the daemon's own: operator authority; the audit names us by uid and pid.
    async with BrokerClient(protected_daemon, client_name="tests") as client:
        await login(client)
        await client.halt("test")
        entries = (await client.list_audit(limit=10)).entries
    halted = [json.loads(e.data_json) for e in entries if e.event == "trading.halted"]
    assert halted and halted[-1]["caller_uid"] == os.getuid() and halted[-1]["caller_pid"] == os.getpid()


async def test_a_client_identifies_again_when_the_daemon_forgot_its_token(protected_daemon: Path) -> None:
    async with BrokerClient(protected_daemon, client_name="tests") as client:
        await client.get_status()
        # As after a daemon restart: the token we hold is unknown now.
        client._metadata = (*client._base_metadata, ("x-etrade-auth", "forgotten"))
        await client.get_status()


def test_configuration_others_could_change_is_refused(tmp_path: Path) -> None:
    dirs = protected.SystemDirs(state=tmp_path / "state", runtime=tmp_path / "run", configuration=tmp_path / "etc")
    dirs.configuration.mkdir(mode=0o755)
    dirs.config_file.write_text("read_only = true\n")
    os.chmod(dirs.config_file, 0o644)
    me = frozenset({0, os.getuid()})
    protected.check_configuration(dirs, trusted=me)  # ours, not group/other-writable: fine
    os.chmod(dirs.config_file, 0o664)
    with pytest.raises(protected.ProtectedModeError, match="writable by its group or others"):
        protected.check_configuration(dirs, trusted=me)
    os.chmod(dirs.config_file, 0o644)
    os.chmod(dirs.configuration, 0o757)
    with pytest.raises(protected.ProtectedModeError, match="writable"):
        protected.check_configuration(dirs, trusted=me)
    os.chmod(dirs.configuration, 0o755)
    with pytest.raises(protected.ProtectedModeError, match="not root"):
        protected.check_root_owned(dirs.config_file, trusted=frozenset({12345}))
    # A directory on the way that others may change (no sticky bit) is as bad as the file itself.
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    inner = protected.SystemDirs(state=tmp_path, runtime=tmp_path, configuration=shared / "etc")
    inner.configuration.mkdir(mode=0o755)
    with pytest.raises(protected.ProtectedModeError, match="on the way to"):
        protected.check_configuration(inner, trusted=me)
    os.chmod(shared, 0o1777)  # sticky, like /tmp: others cannot rename what is not theirs
    protected.check_configuration(inner, trusted=me)


def test_protected_mode_ignores_consumer_keys_from_the_environment() -> None:
    kept, ignored = protected.filtered_environment(
        {"ETRADE_CONSUMER_KEY": "k", "ETRADE_CONSUMER_SECRET": "s", "ETRADE_READ_ONLY": "false"}
    )
    assert kept == {"ETRADE_READ_ONLY": "false"}
    assert ignored == ["ETRADE_CONSUMER_KEY", "ETRADE_CONSUMER_SECRET"]


def test_clients_find_the_system_socket_when_they_have_none_of_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(paths.SOCKET_ENV, raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "user"))
    monkeypatch.setattr(paths, "SYSTEM_RUNTIME_DIR", tmp_path / "system")
    own = tmp_path / "user" / paths.APP_NAME / paths.SOCKET_NAME
    assert paths.client_socket_path() == own  # neither exists: the per-user default, as before
    (tmp_path / "system").mkdir()
    (tmp_path / "system" / paths.SYSTEM_SOCKET_NAME).touch()
    assert paths.client_socket_path() == tmp_path / "system" / paths.SYSTEM_SOCKET_NAME
    own.parent.mkdir(parents=True)
    own.touch()
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert paths.client_socket_path() == own  # a user's own daemon wins
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    # Root (sudo keeps some environments) never trusts a runtime directory a user may control.
    assert paths.client_socket_path() == tmp_path / "system" / paths.SYSTEM_SOCKET_NAME
    assert paths.client_socket_path("/x/y.sock") == Path("/x/y.sock")


def test_a_protected_daemon_refuses_to_start_on_a_configuration_others_could_change(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    os.chmod(etc, 0o775)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "CONFIGURATION_DIRECTORY": str(etc),
        "STATE_DIRECTORY": str(tmp_path / "state"),
        "RUNTIME_DIRECTORY": str(tmp_path / "run"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "daemon", "--system"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 78, result.stderr
    assert "refusing to start in protected mode" in result.stderr and str(etc) in result.stderr
    assert not (tmp_path / "run").exists()  # nothing was created, nothing listens


async def test_single_user_mode_serves_unidentified_callers_and_audits_identified_ones(daemon: RunningDaemon) -> None:
    async with grpc.aio.insecure_channel(f"unix:{daemon.socket}") as channel:
        stub = operator_pb2_grpc.OperatorStub(channel)
        state = await stub.GetTradingState(operator_pb2.GetTradingStateRequest(), metadata=((CLIENT_KEY, "grpcurl"),))
        assert not state.halted
    async with daemon.client() as client:
        await client.halt("single-user")
        entries = (await client.list_audit(limit=10)).entries
    halted = [json.loads(e.data_json) for e in entries if e.event == "trading.halted"]
    assert halted[-1]["caller_uid"] == os.getuid() and halted[-1]["caller_pid"] == os.getpid()
