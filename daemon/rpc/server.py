"""The gRPC server on a unix socket: private directory, single instance, clean shutdown.

Single-user mode: the socket lives in a directory only its owner can enter (0700) and is itself
0600. Protected mode (``etrade-daemon --system``): the directory is 0750 and the sockets 0660, both
in the clients' group, and authority comes from the kernel through the identity socket beside the
gRPC one (see ``daemon/rpc/authority.py``), which runs in both modes so the audit log can name callers.
gRPC silently unlinks and steals an existing socket path, so a ``flock`` on ``daemon.lock`` next to
the socket decides who may bind; whoever holds it may remove a stale socket left by a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import signal
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import grpc

from broker_client.errors import ErrorCode, InvalidRequest
from broker_client.paths import MAX_SOCKET_PATH, auth_socket_path
from daemon.app import BrokerApp
from daemon.gateway.sender_mark import mark_sending, mark_stopped
from daemon.host import sd_notify
from daemon.rpc.authority import AuthorityGate, IdentityServer, TokenBook
from daemon.rpc.drain import CUT_SECONDS, CallTracker

log = logging.getLogger(__name__)

LOCK_NAME = "daemon.lock"
#: Seconds the calls in flight get to finish when the daemon stops (SIGTERM, SIGINT).
STOP_GRACE = 2.0


class StartupError(InvalidRequest):
    """The daemon cannot start; the message says why and what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(ErrorCode.INVALID_ARGUMENT, message, hint=hint)


def prepare_socket_dir(directory: Path, group: int | None = None) -> None:
    """Create the socket's directory as 0700 (0750 in ``group``), or check that an existing one is ours."""
    mode = 0o700 if group is None else 0o750
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.stat()
    if info.st_uid != os.getuid():
        raise StartupError(
            f"the socket directory {directory} belongs to another user",
            "choose another socket path with --socket or ETRADE_MCP_SOCKET",
        )
    if group is not None and info.st_gid != group:
        _chgrp(directory, group)
    if stat.S_IMODE(info.st_mode) != mode:
        # Ours but too open (e.g. created by hand), or a fresh directory: set exactly ours.
        os.chmod(directory, mode)
        if stat.S_IMODE(info.st_mode) & ~mode:
            log.warning("server: tightened %s to mode %o", directory, mode)


def _chgrp(path: Path, group: int) -> None:
    try:
        os.chown(path, -1, group)
    except PermissionError:
        raise StartupError(
            f"cannot give {path} to the clients' group (gid {group}): the daemon's user is not a member",
            "run the daemon with the clients' group as its group (systemd: Group=), or set clients_group",
        ) from None


class InstanceLock:
    """An exclusive, non-blocking flock held for the daemon's lifetime."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._on_release: list[Callable[[], None]] = []

    def on_release(self, callback: Callable[[], None]) -> None:
        self._on_release.append(callback)

    def acquire(self, socket_path: Path) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            other = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                pid = f" (pid {other})" if other.isdigit() else ""
                raise StartupError(
                    f"another etrade-daemon is already running on {socket_path}{pid}",
                    "use `etradectl status` to talk to it, or stop it first; "
                    "to run a second daemon, give it another socket with --socket",
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        self._fd = fd

    def release(self) -> None:
        callbacks, self._on_release = self._on_release, []
        for callback in callbacks:
            callback()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None


def claim_socket(socket_path: Path, group: int | None = None) -> tuple[Path, InstanceLock]:
    """Check the path, prepare its private directory, take the lock and clear a stale socket."""
    socket_path = Path(os.path.abspath(socket_path))
    if len(str(socket_path)) > MAX_SOCKET_PATH:
        raise StartupError(
            f"the socket path {socket_path} is {len(str(socket_path))} bytes; unix sockets allow about {MAX_SOCKET_PATH}",
            "choose a shorter path with --socket or ETRADE_MCP_SOCKET",
        )
    prepare_socket_dir(socket_path.parent, group)
    lock = InstanceLock(socket_path.parent / LOCK_NAME)
    lock.acquire(socket_path)
    if socket_path.exists() or socket_path.is_symlink():
        # We hold the lock, so nobody serves on it: a crash left it behind.
        log.info("server: removing stale socket %s", socket_path)
        socket_path.unlink()
    return socket_path, lock


@dataclass(frozen=True)
class Access:
    """Who may connect: the owner only (single-user mode), or the clients' group (protected mode)."""

    protected: bool = False
    #: The clients' group id; None in single-user mode.
    group: int | None = None

    @property
    def socket_mode(self) -> int:
        return 0o600 if self.group is None else 0o660


async def start_server(
    app: BrokerApp, socket_path: Path, access: Access | None = None, *, tracker: CallTracker | None = None
) -> tuple[grpc.aio.Server, InstanceLock]:
    """Bind the servicers on ``socket_path`` and the identity socket beside it, under the instance lock.

    ``tracker`` sees every call, so that :func:`serve` can drain them when it stops.
    """
    from daemon.rpc.health import ServiceRecorder, add_health
    from daemon.rpc.servicers import add_servicers
    from daemon.rpc.version_gate import VersionGate
    from daemon.session import SessionState

    access = access or Access()
    socket_path, lock = claim_socket(socket_path, access.group)
    auth_path = auth_socket_path(socket_path)
    book = TokenBook()
    identity = IdentityServer(book)
    try:
        gate = AuthorityGate(book, protected=access.protected)
        server = grpc.aio.server(interceptors=[VersionGate(app.api_version), gate, tracker or CallTracker()])
        recorder = ServiceRecorder(server)
        add_servicers(cast(grpc.aio.Server, recorder), app)
        add_health(server, recorder.names, lambda: app.session.state is SessionState.ACTIVE)
        old_umask = os.umask(0o177)
        try:
            server.add_insecure_port(f"unix:{socket_path}")
        finally:
            os.umask(old_umask)
        await server.start()
        await identity.start(auth_path)
        for path in (socket_path, auth_path):
            if access.group is not None:
                _chgrp(path, access.group)
            os.chmod(path, access.socket_mode)
    except BaseException:
        identity.close()
        book.close()
        lock.release()
        raise
    # Whoever releases the lock stops serving: the identity socket goes with it, then the tokens and
    # the pidfds that bind them (a daemon stopped in-process, as in tests, would otherwise keep them).
    lock.on_release(identity.close)
    lock.on_release(lambda: _unlink(auth_path))
    lock.on_release(book.close)
    # Under the lock only: a second daemon refused here must not touch the serving one's mark.
    state_dir = app.settings.resolved_state_dir()
    mark_sending(state_dir)
    lock.on_release(lambda: mark_stopped(state_dir, time.time()))
    return server, lock


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


async def serve(
    app: BrokerApp, socket_path: Path, *, ready: asyncio.Event | None = None, access: Access | None = None
) -> None:
    """Serve until SIGTERM or SIGINT, then stop gracefully and remove the socket."""
    tracker = CallTracker()
    server, lock = await start_server(app, socket_path, access, tracker=tracker)
    app.start_jobs()  # only once this daemon owns the socket: a refused second daemon touches nothing
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    mode = "protected mode" if access is not None and access.protected else "single-user mode"
    log.info("server: listening on %s (environment %s, %s)", socket_path, app.environment, mode)
    sd_notify.ready(f"listening on {socket_path}")
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
        log.info("server: stopping")
        sd_notify.stopping()
    finally:
        # The handlers stay installed until cleanup is done: a second SIGTERM during the grace
        # period must not kill the process with the default action and leave the socket behind.
        # End the event streams first: they never finish on their own and would hold the grace period.
        app.events.close()
        # gRPC stops taking calls at once; the tracker waits out the grace for those in flight and
        # ends the rest with our own status, before gRPC's stop would cancel them with a bare one.
        stopping = asyncio.ensure_future(server.stop(grace=STOP_GRACE + CUT_SECONDS))
        await tracker.drain(STOP_GRACE)
        await stopping
        _unlink(socket_path)
        await app.close()
        lock.release()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        log.info("server: stopped")
