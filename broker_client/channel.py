"""The channel, identity and call core of the daemon's typed client (:mod:`broker_client.client`).

:class:`DaemonChannel` owns the gRPC channel and its stubs, the identity token, the API version
handshake and the mapping of every gRPC failure to a :mod:`broker_client.errors` exception (by the
code in trailing metadata), or, when the daemon cannot be reached at all, to
:class:`~broker_client.errors.DaemonUnavailable` with what to run. Callers never see ``grpc`` types.
The per-service methods live on :class:`broker_client.client.BrokerClient`, its subclass.

The client half of the API version handshake (:mod:`broker_client.api_version`): every request
declares this client's API version, and the daemon's version, read from the first answer, is
compared once: a MINOR difference is reported through ``on_version_warning`` (default: a log
warning), a MAJOR difference raises :class:`~broker_client.errors.VersionMismatch` on that and every
later call. Nothing is checked at construction or import: the first call is the first contact.

Import-light on purpose: grpc, the generated stubs and the rest of ``broker_client`` only — never
rauth, APScheduler or keyring (a test and ``lint-imports`` check).
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import socket
import time
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any, Self, TypeVar

import grpc

from broker_client import api_version, paths
from broker_client.error_wire import error_from_metadata
from broker_client.errors import (
    BrokerError,
    DaemonUnavailable,
    ErrorCode,
    Kind,
    VersionMismatch,
    make_error,
)
from broker_client.metadata_keys import API_VERSION_KEY, AUTH_KEY, CLIENT_KEY, CODE_KEY, KNOWN_API_VERSION_KEY
from broker_client.unfinished import send_outcome_unknown, unfinished
from protos.broker.v1 import API_VERSION

if TYPE_CHECKING:
    from protos.broker.v1 import (
        accounts_pb2_grpc,
        alerts_pb2_grpc,
        analytics_pb2_grpc,
        events_pb2_grpc,
        history_pb2_grpc,
        market_pb2_grpc,
        operator_pb2_grpc,
        options_pb2_grpc,
        orders_pb2_grpc,
        session_pb2_grpc,
        watchlists_pb2_grpc,
    )

DEFAULT_TIMEOUT = 30.0
# An analysis pages through the whole portfolio; give it longer than a single call.
ANALYSIS_TIMEOUT = 120.0
# Sending an order may wait for a rate-limit slot, a token renewal and E*TRADE's answer, each with
# its own bound; the caller must not give up before the daemon does.
SEND_TIMEOUT = 120.0
# The identity handshake is one local round trip; a daemon that does not answer it quickly is stuck.
IDENTIFY_TIMEOUT = 5.0
# No call outlives this (each has its deadline): a dropped channel's calls in flight get as long.
MAX_CALL_SECONDS = max(DEFAULT_TIMEOUT, ANALYSIS_TIMEOUT, SEND_TIMEOUT)
# Without a token (no identity socket), look again after this long: the daemon may have restarted.
IDENTIFY_RETRY = 60.0

# Fail fast when nothing listens (no retries: the caller's deadline bounds every call). gRPC's
# default reconnect backoff grows to 120 s, so a daemon that came back after a long outage would
# stay unreachable for a minute; on a local socket a reconnection attempt costs nothing.
CHANNEL_OPTIONS = (
    ("grpc.enable_retries", 0),
    # A channel's own subchannel: with gRPC's global pool a fresh channel would inherit the failed
    # connection of the channel it replaces, backoff included.
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
)

log = logging.getLogger(__name__)

Resp = TypeVar("Resp")
Stub = TypeVar("Stub")


def _served_together(socket_path: str, auth_path: str) -> bool:
    """Whether the identity socket is the gRPC socket's sibling: one directory, one owner.

    Otherwise the token the identity socket issues (say, to root) would be sent to whoever serves
    ``socket_path`` — a link to another daemon's identity socket beside a fake gRPC socket.
    """
    try:
        ours, auth = os.stat(socket_path), os.stat(auth_path)
    except OSError:
        return False
    same_dir = os.path.dirname(os.path.realpath(socket_path)) == os.path.dirname(os.path.realpath(auth_path))
    return same_dir and ours.st_uid == auth.st_uid


def _listener_behind(path: os.PathLike[str]) -> bool | None:
    """What a plain connect to ``path`` finds: None, nobody listens (refused); False, a listener
    whose queue is full (it is not accepting: out of descriptors, say); True, a connection."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.setblocking(False)
        result = probe.connect_ex(os.fspath(path))
    except OSError:
        return None
    finally:
        probe.close()
    if result == 0:
        return True
    if result in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINPROGRESS):
        return False
    return None


class DaemonChannel:
    """One connection to the daemon: channel, stubs, identity, version handshake, error mapping.

    The channel opens lazily on the first call, so constructing one is free.
    """

    def __init__(
        self,
        socket_path: str | os.PathLike[str] | None = None,
        *,
        client_name: str = "etrade-client",
        timeout: float = DEFAULT_TIMEOUT,
        on_version_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.socket_path = paths.client_socket_path(socket_path)
        self.timeout = timeout
        self._base_metadata: tuple[tuple[str, str], ...] = (
            (CLIENT_KEY, client_name),
            (API_VERSION_KEY, API_VERSION),
        )
        self._declared = self._base_metadata
        self._metadata: tuple[tuple[str, str], ...] = self._base_metadata
        # When the identity token (see daemon/authority.py) was obtained; None: not yet.
        self._identified_at: float | None = None
        self._token_refresh = IDENTIFY_RETRY
        self._on_version_warning = on_version_warning or log.warning
        # The daemon's API version once an answer has carried it; None before the first contact.
        self.daemon_api_version: str | None = None
        self._incompatible: VersionMismatch | None = None
        self._channel: grpc.aio.Channel | None = None
        self._stubs: dict[Callable[[Any], Any], Any] = {}
        self._closing: set[asyncio.Future[None]] = set()  # dropped channels still closing
        self._dropped: set[grpc.aio.Channel] = set()  # ... and the channels themselves

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for dropped in list(self._dropped):
            await dropped.close()  # no grace: the calls still running on it end now
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
            self._closing.clear()
        if self._channel is not None:
            channel, self._channel = self._channel, None
            self._stubs.clear()
            await channel.close()

    async def _identify(self) -> None:
        """Obtain (or refresh) this process's identity token from the daemon's identity socket.

        A daemon without one (older, or not running yet) is simply called without a token; the
        daemon decides whether that is enough. The token goes in metadata only, never in a log.
        """
        now = time.monotonic()
        if self._identified_at is not None and now - self._identified_at < self._token_refresh:
            return
        auth_path = str(paths.auth_socket_path(self.socket_path))
        if not _served_together(str(self.socket_path), auth_path):
            self._identified_at = now  # a token must never travel to a socket another daemon serves
            self._token_refresh = IDENTIFY_RETRY
            self._metadata = self._base_metadata
            return
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(auth_path), IDENTIFY_TIMEOUT)
        except (OSError, TimeoutError):
            self._identified_at = now  # not offered: don't knock again on every call
            self._token_refresh = IDENTIFY_RETRY
            return
        try:
            line = await asyncio.wait_for(reader.readline(), IDENTIFY_TIMEOUT)
            answer = json.loads(line) if line else {}
        except (OSError, TimeoutError, ValueError):
            answer = {}
        finally:
            writer.close()
        token = answer.get("token") if isinstance(answer, dict) else None
        self._identified_at = now
        if isinstance(token, str) and token:
            ttl = answer.get("ttl_seconds")
            self._token_refresh = float(ttl) / 2 if isinstance(ttl, int | float) and ttl > 0 else IDENTIFY_RETRY
            self._metadata = (*self._base_metadata, (AUTH_KEY, token))
        else:
            self._token_refresh = IDENTIFY_RETRY
            self._metadata = self._base_metadata

    def _forget_identity(self, exc: grpc.aio.AioRpcError) -> bool:
        """True (and the token dropped) when the daemon did not recognise the token we sent."""
        code = dict(exc.trailing_metadata() or ()).get(CODE_KEY)
        if code != ErrorCode.CALLER_UNIDENTIFIED.value or self._metadata is self._base_metadata:
            return False
        self._identified_at = None
        self._metadata = self._base_metadata
        return True

    def _drop_failed_channel(self) -> None:
        """Forget a channel that failed to connect, so the next call connects at once.

        A failed channel waits out its reconnect backoff before trying again, and meanwhile fails
        every call; a fresh channel tries on its first call. Only a channel in TRANSIENT_FAILURE is
        dropped, but calls may still be in flight on it: a daemon that is stopping lets the calls
        it is serving finish on their connection while refusing new ones. Those calls keep their
        connection until they end (each has its deadline); :meth:`close` cuts them short.
        """
        channel = self._channel
        if channel is None or channel.get_state() is not grpc.ChannelConnectivity.TRANSIENT_FAILURE:
            return
        self._channel = None
        self._stubs.clear()
        self._dropped.add(channel)
        closing = asyncio.ensure_future(channel.close(grace=MAX_CALL_SECONDS))
        self._closing.add(closing)

        def closed(_: asyncio.Future[None]) -> None:
            self._closing.discard(closing)
            self._dropped.discard(channel)

        closing.add_done_callback(closed)

    def _open(self) -> grpc.aio.Channel:
        if self._channel is None:
            self._refuse_unsafe_socket()
            self._channel = grpc.aio.insecure_channel(f"unix:{self.socket_path}", options=CHANNEL_OPTIONS)
        return self._channel

    def _refuse_unsafe_socket(self) -> None:
        """As root, never talk to a socket that someone other than root or its owner could replace."""
        if os.geteuid() != 0:
            return
        reason = paths.root_socket_refusal(self.socket_path)
        if reason is not None:
            raise DaemonUnavailable(
                ErrorCode.DAEMON_PERMISSION_DENIED,
                f"refusing the socket {self.socket_path} as root: {reason}",
                hint="as root, use the protected daemon's socket (leave out --socket), or a socket in a directory "
                "that only root or the daemon's user can write",
            )

    # Each service's generated *_pb2_grpc module is imported when its stub is first needed: the
    # modules carry servicer and server-side code the client never runs (about 0.1 MiB each), and
    # a proxy whose conversation never reads options or alerts need not hold theirs.

    @property
    def session_stub(self) -> session_pb2_grpc.SessionAsyncStub:
        from protos.broker.v1.session_pb2_grpc import SessionStub

        return self._stub(SessionStub)

    @property
    def market_stub(self) -> market_pb2_grpc.MarketAsyncStub:
        from protos.broker.v1.market_pb2_grpc import MarketStub

        return self._stub(MarketStub)

    @property
    def accounts_stub(self) -> accounts_pb2_grpc.AccountsAsyncStub:
        from protos.broker.v1.accounts_pb2_grpc import AccountsStub

        return self._stub(AccountsStub)

    def _stub(self, factory: Callable[[grpc.aio.Channel], Stub]) -> Stub:
        """The stub ``factory`` makes on the current channel, made once per channel."""
        channel = self._open()
        if factory not in self._stubs:
            self._stubs[factory] = factory(channel)
        stub: Stub = self._stubs[factory]
        return stub

    @property
    def watchlists_stub(self) -> watchlists_pb2_grpc.WatchlistsAsyncStub:
        from protos.broker.v1.watchlists_pb2_grpc import WatchlistsStub

        return self._stub(WatchlistsStub)

    @property
    def analytics_stub(self) -> analytics_pb2_grpc.AnalyticsAsyncStub:
        from protos.broker.v1.analytics_pb2_grpc import AnalyticsStub

        return self._stub(AnalyticsStub)

    @property
    def events_stub(self) -> events_pb2_grpc.EventsAsyncStub:
        from protos.broker.v1.events_pb2_grpc import EventsStub

        return self._stub(EventsStub)

    @property
    def options_stub(self) -> options_pb2_grpc.OptionsAsyncStub:
        from protos.broker.v1.options_pb2_grpc import OptionsStub

        return self._stub(OptionsStub)

    async def stream(self, method: Callable[..., Any], request: Any, *, timeout: float | None) -> AsyncGenerator[Any]:
        """Iterate a server-streaming call (``timeout`` None: no deadline); raise BrokerError subclasses."""
        if self._incompatible is not None:
            raise self._incompatible
        await self._identify()
        sent = self._connected()
        call = method(request, timeout=timeout, metadata=self._metadata)
        try:
            self.check_version(await call.initial_metadata())
            async for message in call:
                yield message
        except grpc.aio.AioRpcError as exc:
            self._forget_identity(exc)  # a daemon that forgot our token: the next call identifies again
            error = self._translate(exc, timeout, sent=sent)
            if error.code is not ErrorCode.API_VERSION_MISMATCH:
                self.check_version(exc.initial_metadata())
            raise error from None
        finally:
            call.cancel()  # no-op once finished; stops the daemon's side when the caller stops early

    @property
    def history_stub(self) -> history_pb2_grpc.HistoryAsyncStub:
        from protos.broker.v1.history_pb2_grpc import HistoryStub

        return self._stub(HistoryStub)

    @property
    def alerts_stub(self) -> alerts_pb2_grpc.AlertsAsyncStub:
        from protos.broker.v1.alerts_pb2_grpc import AlertsStub

        return self._stub(AlertsStub)

    @property
    def orders_stub(self) -> orders_pb2_grpc.OrdersAsyncStub:
        from protos.broker.v1.orders_pb2_grpc import OrdersStub

        return self._stub(OrdersStub)

    @property
    def operator_stub(self) -> operator_pb2_grpc.OperatorAsyncStub:
        from protos.broker.v1.operator_pb2_grpc import OperatorStub

        return self._stub(OperatorStub)

    async def call(
        self,
        method: Callable[..., grpc.aio.UnaryUnaryCall[Any, Resp]],
        request: Any,
        *,
        timeout: float | None = None,
        sends_order: bool = False,
    ) -> Resp:
        """Invoke a stub method with our deadline and metadata; raise BrokerError subclasses.

        ``sends_order``: the call may send an order or cancel to E*TRADE. It gets at least
        :data:`SEND_TIMEOUT`, and running out of time means its outcome is unknown (never "try again").
        """
        if self._incompatible is not None:
            raise self._incompatible
        deadline = timeout or (max(self.timeout, SEND_TIMEOUT) if sends_order else self.timeout)
        await self._identify()
        if sends_order:
            # Only a request that left on a live connection can have been sent on to E*TRADE: when no
            # daemon listens, say so now, while it is certain that nothing was sent.
            await self._connect(min(deadline, IDENTIFY_TIMEOUT))
        sent = sends_order or self._connected()
        try:
            try:
                call = method(request, timeout=deadline, metadata=self._metadata)
                response = await call
            except grpc.aio.AioRpcError as exc:
                if not self._forget_identity(exc):
                    raise
                # Refused before any servicer ran (the daemon restarted and forgot our token):
                # identify again and ask once more; safe even for a call that sends an order.
                await self._identify()
                call = method(request, timeout=deadline, metadata=self._metadata)
                response = await call
        except grpc.aio.AioRpcError as exc:
            error = self._translate(exc, deadline, sent=sent, sends_order=sends_order)
            if error.code is not ErrorCode.API_VERSION_MISMATCH:
                self.check_version(exc.initial_metadata())
            raise error from None
        self.check_version(await call.initial_metadata())
        return response

    def _connected(self) -> bool:
        """Whether the channel has a live connection now: a call started on it reaches the daemon."""
        return self._channel is not None and self._channel.get_state() is grpc.ChannelConnectivity.READY

    async def _connect(self, timeout: float) -> None:
        """Have a live connection, trying once (bounded by ``timeout``); else raise :meth:`unreachable`."""
        self._drop_failed_channel()  # a channel still in its reconnect backoff would not even try
        channel = self._open()
        state = channel.get_state(try_to_connect=True)
        try:
            async with asyncio.timeout(timeout):
                while state is not grpc.ChannelConnectivity.READY:
                    if state in (grpc.ChannelConnectivity.TRANSIENT_FAILURE, grpc.ChannelConnectivity.SHUTDOWN):
                        break
                    await channel.wait_for_state_change(state)
                    state = channel.get_state(try_to_connect=True)
        except TimeoutError:
            pass
        if state is not grpc.ChannelConnectivity.READY:
            self._drop_failed_channel()
            raise self.unreachable()

    def check_version(self, metadata: grpc.aio.Metadata | None) -> None:
        """Compare the daemon's API version (from an answer's metadata) with ours, once per version.

        A daemon announces its version until our requests name it (``KNOWN_API_VERSION_KEY``), and
        again if another daemon with another version answers later.
        """
        raw = metadata.get(API_VERSION_KEY) if metadata is not None else None
        if raw is None:  # the daemon knows we know, no answer yet, or a daemon older than the handshake
            return
        version = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        if version == self.daemon_api_version:
            return
        self.daemon_api_version = version
        self._name_known_version(None)
        compatibility = api_version.compare(API_VERSION, version)
        if compatibility in (api_version.Compatibility.MAJOR_DIFFERS, api_version.Compatibility.UNREADABLE):
            self._incompatible = api_version.mismatch_error(API_VERSION, version)
            raise self._incompatible
        if compatibility is api_version.Compatibility.MINOR_DIFFERS:
            self._on_version_warning(api_version.minor_warning(API_VERSION, version))
        self._name_known_version(version)

    def _name_known_version(self, version: str | None) -> None:
        """From now on every request names ``version`` as the daemon's (None: names none), so the
        daemon need not repeat it; the identity token, if any, stays."""
        token = tuple(item for item in self._metadata if item[0] == AUTH_KEY)
        known = () if version is None else ((KNOWN_API_VERSION_KEY, version),)
        self._base_metadata = (*self._declared, *known)
        self._metadata = (*self._base_metadata, *token) if token else self._base_metadata

    # --- errors --------------------------------------------------------------------------

    def _translate(
        self, exc: grpc.aio.AioRpcError, deadline: float | None = None, *, sent: bool = False, sends_order: bool = False
    ) -> BrokerError:
        """The error for a failed call. ``sent``: it started on a live connection, so the daemon
        may have begun it; ``sends_order``: it may send an order or a cancel (see
        :mod:`broker_client.unfinished`: then a call the daemon did not finish has an unknown outcome)."""
        rebuilt = error_from_metadata(dict(exc.trailing_metadata() or ()), exc.details())
        if rebuilt is not None:
            if sends_order and rebuilt.code.kind is Kind.UNAVAILABLE:  # the daemon stopped during the send
                return unfinished(sends_order=True)
            return rebuilt
        status = exc.code()
        if status == grpc.StatusCode.UNAVAILABLE:
            self._drop_failed_channel()
            return unfinished(sends_order=sends_order) if sent else self.unreachable()
        if status == grpc.StatusCode.CANCELLED:
            # Not our cancel (that raises CancelledError, not an error with a status): the daemon
            # ended the call as it stopped, before or while its handler ran.
            return unfinished(sends_order=sends_order)
        if status == grpc.StatusCode.DEADLINE_EXCEEDED:
            if sends_order:
                return send_outcome_unknown(
                    f"the broker daemon did not answer within {deadline or self.timeout:g} s", daemon_stopped=False
                )
            return DaemonUnavailable(
                ErrorCode.DAEMON_TIMEOUT, f"the broker daemon did not answer within {deadline or self.timeout:g} s"
            )
        if status == grpc.StatusCode.RESOURCE_EXHAUSTED:  # gRPC's message size limit, before our code runs
            return make_error(
                ErrorCode.INVALID_ARGUMENT,
                "the request or its answer is larger than the broker daemon's message limit; ask for less at once",
            )
        if status == grpc.StatusCode.UNIMPLEMENTED:
            return make_error(
                ErrorCode.API_VERSION_MISMATCH,
                "the broker daemon does not offer this call (it is older than this client)",
            )
        if sends_order:
            return send_outcome_unknown(f"the broker daemon's answer was lost ({status.name})")
        return make_error(ErrorCode.INTERNAL, f"the broker daemon failed: {status.name}")

    def unreachable(self) -> DaemonUnavailable:
        """Explain why the socket cannot be used: missing, not ours, or nobody listening."""
        path = self.socket_path
        hint = ErrorCode.DAEMON_UNAVAILABLE.hint
        if path != paths.default_socket_path():
            hint += f" (with --socket {path} or {paths.SOCKET_ENV}={path})"
        try:
            os.stat(path)
        except PermissionError:
            return DaemonUnavailable(
                ErrorCode.DAEMON_PERMISSION_DENIED, f"permission denied on the broker daemon's socket {path}"
            )
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return DaemonUnavailable(
                    ErrorCode.DAEMON_UNAVAILABLE, f"the broker daemon is not running (no socket at {path})", hint=hint
                )
            raise
        if not os.access(path, os.R_OK | os.W_OK):
            return DaemonUnavailable(
                ErrorCode.DAEMON_PERMISSION_DENIED, f"permission denied on the broker daemon's socket {path}"
            )
        listening = _listener_behind(path)
        if listening is None:
            return DaemonUnavailable(
                ErrorCode.DAEMON_UNAVAILABLE,
                f"the broker daemon is not answering on {path} (it stopped, or the socket is stale)",
                hint=hint,
            )
        if not listening:
            return DaemonUnavailable(
                ErrorCode.DAEMON_UNAVAILABLE,
                f"the broker daemon on {path} is running but not accepting connections "
                "(out of file descriptors? other clients may be holding many connections open)",
                hint="close idle clients, or restart the daemon; its log says how many descriptors it may open",
            )
        return DaemonUnavailable(
            ErrorCode.DAEMON_UNAVAILABLE,
            f"something listens on {path} but does not answer as the broker daemon "
            "(busy, out of file descriptors, or not an etrade-daemon)",
            hint=hint,
        )
