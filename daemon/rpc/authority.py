"""Who is calling, according to the kernel, and what they may do.

Python gRPC cannot see a unix-socket peer's credentials, so the daemon runs an identity handshake
beside its gRPC socket (``<socket>.auth``, the same owner, group and mode): a client connects, the
daemon reads the peer's uid, gid and pid from the kernel (:mod:`daemon.rpc.peercred`) and answers with a
random token bound to them. The client sends the token in gRPC metadata
(:data:`broker_client.metadata_keys.AUTH_KEY`) on every call; :class:`AuthorityGate` resolves it and puts the
caller's :class:`Identity` in :data:`CALLER` for the call (the audit log reads it there).

Invariants:

- A token is only good while the process it was issued to runs (same pid, same start time) and for
  at most :data:`TOKEN_TTL` seconds; it is never logged.
- In protected mode (``etrade-daemon --system``) a call without a valid token is refused before any
  servicer runs, and an RPC outside :data:`CLIENT_RPCS` needs a caller whose kernel uid is root or
  the daemon's own. The name a client declares never grants anything.
- Every RPC of the generated services is in exactly one of :data:`CLIENT_RPCS` and
  :data:`OPERATOR_RPCS` (a test checks); an unknown method is treated as operator-only.
- In single-user mode nothing is refused here; the identity, when the client offers one, is recorded.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import json
import logging
import os
import secrets
import select
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from broker_client.errors import BrokerError, ErrorCode, PolicyRefused
from broker_client.metadata_keys import AUTH_KEY
from daemon.caller import CALLER, Identity
from daemon.rpc import peercred
from daemon.rpc.handlers import Handler, abort_with, rewrap

log = logging.getLogger(__name__)


#: A token outlives no process, and no process keeps one longer than this (clients refresh at half).
TOKEN_TTL = 12 * 3600.0
#: More live tokens than this and the oldest are forgotten (their clients shake hands again).
MAX_TOKENS = 4096
#: Live tokens per uid: one uid's handshakes evict only that uid's oldest tokens, never another's.
MAX_TOKENS_PER_UID = 64
#: Grants checked for liveness per handshake: the book is swept a little at a time, never whole.
SWEEP_STEP = 4
#: Handshakes one uid may hold open at once; beyond this its new connections are closed at once.
MAX_HANDSHAKES_PER_UID = 16

_PACKAGE = "etrade_mcp.broker.v1"

#: What a model-facing client (etrade-mcp, or etradectl without sudo) may call in protected mode:
#: reads, previews, placing or cancelling with the code the human was shown, halting (anyone may
#: stop trading), status and events. None of these ever returns a confirmation code.
CLIENT_RPCS: tuple[str, ...] = (
    "Accounts/ListAccounts",
    "Accounts/GetBalance",
    "Accounts/GetPortfolio",
    "Accounts/GetPosition",
    "Alerts/ListAlerts",
    "Alerts/GetAlert",
    "Analytics/AnalyzePortfolio",
    "Events/Subscribe",
    "History/ListTransactions",
    "History/GetTransaction",
    "Market/GetQuotes",
    "Market/LookupProduct",
    "Operator/Halt",
    "Operator/GetTradingState",
    "Options/GetOptionExpirations",
    "Options/GetOptionChain",
    "Options/GetOptionQuote",
    "Orders/ListOrders",
    "Orders/GetOrder",
    "Orders/PreviewOrder",
    "Orders/PlaceConfirmed",
    "Orders/RequestCancel",
    "Orders/CancelConfirmed",
    "Orders/RecentFills",
    "Session/GetStatus",
    "Watchlists/ListWatchlists",
    "Watchlists/GetWatchlist",
    "grpc.health.v1.Health/Check",
    "grpc.health.v1.Health/Watch",
    "grpc.health.v1.Health/List",
)

#: Operator authority (root or the daemon's own uid) in protected mode: codes, confirm and reject,
#: resume, the audit log and the journal, login and credentials, and changes to the daemon's lists.
OPERATOR_RPCS: tuple[str, ...] = (
    "Alerts/DeleteAlerts",
    "Notifications/ListChannels",
    "Notifications/TestChannels",
    "Notifications/StoreChannelSecret",
    "Operator/ListPending",
    "Operator/ConfirmPending",
    "Operator/RejectPending",
    "Operator/Resume",
    "Operator/ListAudit",
    "Operator/VerifyAudit",
    "Operator/GetJournal",
    "Operator/AcknowledgeJournalEntry",
    "Operator/ResolveJournalEntry",
    "Session/BeginLogin",
    "Session/CompleteLogin",
    "Session/Logout",
    "Session/SetCredentials",
    "Watchlists/AddToWatchlist",
    "Watchlists/RemoveFromWatchlist",
)


def full_method(short: str) -> str:
    """``Orders/PreviewOrder`` → ``/etrade_mcp.broker.v1.Orders/PreviewOrder`` (gRPC's method path)."""
    return f"/{short}" if short.startswith("grpc.") else f"/{_PACKAGE}.{short}"


_CLIENT_METHODS = frozenset(full_method(m) for m in CLIENT_RPCS)


def is_client_rpc(method: str) -> bool:
    return method in _CLIENT_METHODS


@dataclass
class _Grant:
    identity: Identity
    start: str | None
    issued: float
    #: A descriptor of the very process the token was issued to (Linux ≥ 5.3); it becomes readable
    #: when that process exits, so a later process with the same pid cannot inherit the token even
    #: where ``/proc`` of other users is hidden from the daemon (``ProtectProc=invisible``).
    pidfd: int | None


def _open_pidfd(pid: int) -> int | None:
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return None
    try:
        fd: int = pidfd_open(pid)
    except OSError:
        return None  # gone already, or a kernel without pidfds: the start time decides
    return fd


def _pidfd_exited(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class TokenBook:
    """Tokens issued by the handshake, each bound to one live process.

    One process gets one token (asking again returns it until half its life is over); each uid has
    at most :data:`MAX_TOKENS_PER_UID`, so a flood of handshakes evicts only the flooding uid's own
    oldest tokens. Dead grants are found a few at a time per handshake and on resolve, never by a
    sweep of the whole book.
    """

    def __init__(self, *, ttl: float = TOKEN_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._grants: dict[str, _Grant] = {}
        self._by_process: dict[tuple[int, int], str] = {}  # (uid, pid) -> its token
        self._by_uid: dict[int, dict[str, None]] = {}  # uid -> its tokens, oldest first
        self._sweep: collections.deque[str] = collections.deque()

    def issue(self, peer: peercred.PeerCredentials, pidfd: int | None = None) -> str:
        """A token for ``peer``; ``pidfd`` (the book owns it from now on) is the peer's as the kernel
        took it at connect time, else the book opens one by pid."""
        key = (peer.uid, peer.pid)
        self._sweep_some()
        known = self._by_process.get(key)
        if known is not None:
            grant = self._grants[known]
            if self._clock() - grant.issued < self.ttl / 2 and self._alive(grant):
                if pidfd is not None:
                    os.close(pidfd)
                return known
            self._forget(known)
        mine = self._by_uid.setdefault(peer.uid, {})
        while len(mine) >= MAX_TOKENS_PER_UID:
            self._forget(next(iter(mine)))
        while len(self._grants) >= MAX_TOKENS:
            crowded = max(self._by_uid.values(), key=len)
            self._forget(next(iter(crowded)))
        if pidfd is None:
            pidfd = _open_pidfd(peer.pid)
        # Read only where no pidfd binds the token: under ProtectProc=invisible it is unknown anyway.
        start = peercred.process_start(peer.pid) if pidfd is None else None
        token = secrets.token_urlsafe(32)
        self._grants[token] = _Grant(Identity(uid=peer.uid, gid=peer.gid, pid=peer.pid), start, self._clock(), pidfd)
        self._by_process[key] = token
        self._by_uid.setdefault(peer.uid, {})[token] = None
        self._sweep.append(token)
        return token

    def resolve(self, token: str | None) -> Identity | None:
        if not token:
            return None
        grant = self._grants.get(token)
        if grant is None:
            return None
        if not self._alive(grant):
            self._forget(token)
            return None
        return grant.identity

    def close(self) -> None:
        """Forget every token (and close their process descriptors)."""
        for token in list(self._grants):
            self._forget(token)

    def __len__(self) -> int:
        return len(self._grants)

    def _alive(self, grant: _Grant) -> bool:
        if self._clock() - grant.issued > self.ttl:
            return False
        if grant.pidfd is not None:
            return not _pidfd_exited(grant.pidfd)
        return peercred.process_alive(grant.identity.pid, grant.start)

    def _sweep_some(self) -> None:
        for _ in range(min(SWEEP_STEP, len(self._sweep))):
            token = self._sweep.popleft()
            grant = self._grants.get(token)
            if grant is None:
                continue  # forgotten meanwhile
            if self._alive(grant):
                self._sweep.append(token)
            else:
                self._forget(token)

    def _forget(self, token: str) -> None:
        grant = self._grants.pop(token, None)
        if grant is None:
            return
        key = (grant.identity.uid, grant.identity.pid)
        if self._by_process.get(key) == token:
            del self._by_process[key]
        mine = self._by_uid.get(grant.identity.uid)
        if mine is not None:
            mine.pop(token, None)
            if not mine:
                del self._by_uid[grant.identity.uid]
        if grant.pidfd is not None:
            os.close(grant.pidfd)


class IdentityServer:
    """The handshake socket: one JSON line per connection, then close."""

    def __init__(self, book: TokenBook) -> None:
        self.book = book
        self._server: asyncio.AbstractServer | None = None
        self._open_by_uid: collections.Counter[int] = collections.Counter()

    async def start(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # we hold the instance lock: a leftover of a crashed daemon
        old_umask = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._answer, path=str(path))
        finally:
            os.umask(old_umask)

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            sock = writer.get_extra_info("socket")
            try:
                peer = peercred.peer_credentials(sock)
            except OSError as exc:
                log.warning("identity: cannot read a caller's credentials: %s", exc)
                return
            if self._open_by_uid[peer.uid] >= MAX_HANDSHAKES_PER_UID:
                return  # a client that does not read its answers holds no more of our descriptors
            self._open_by_uid[peer.uid] += 1
            try:
                token = self.book.issue(peer, peercred.peer_pidfd(sock))
                answer = {"token": token, "uid": peer.uid, "pid": peer.pid, "ttl_seconds": self.book.ttl}
                writer.write((json.dumps(answer) + "\n").encode("ascii"))
                await writer.drain()
            finally:
                self._open_by_uid[peer.uid] -= 1
                if self._open_by_uid[peer.uid] <= 0:
                    del self._open_by_uid[peer.uid]
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None


def _token(details: grpc.HandlerCallDetails) -> str | None:
    for key, value in details.invocation_metadata or ():
        if key == AUTH_KEY and isinstance(value, str):
            return value
    return None


class AuthorityGate(grpc.aio.ServerInterceptor):
    """Resolve each call's token to a kernel identity; in protected mode, enforce the RPC table."""

    def __init__(self, book: TokenBook, *, protected: bool, operator_uids: frozenset[int] | None = None) -> None:
        self.book = book
        self.protected = protected
        self.operator_uids = operator_uids if operator_uids is not None else frozenset({0, os.getuid()})

    def decide(self, method: str, identity: Identity | None) -> BrokerError | None:
        """The refusal for ``method`` called by ``identity``, or None when it may proceed."""
        if not self.protected:
            return None
        if identity is None:
            return PolicyRefused(
                ErrorCode.CALLER_UNIDENTIFIED, "the broker daemon does not know who is calling, so it refuses the call"
            )
        if is_client_rpc(method) or identity.uid in self.operator_uids:
            return None
        return PolicyRefused(
            ErrorCode.OPERATOR_AUTHORITY_REQUIRED,
            f"this needs operator authority ({method.rsplit('/', 1)[-1]} is refused to uid {identity.uid})",
        )

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        identity = self.book.resolve(_token(handler_call_details))
        refusal = self.decide(handler_call_details.method, identity)
        if refusal is not None:
            log.warning(
                "authority: refused %s to %s",
                handler_call_details.method,
                f"uid {identity.uid} pid {identity.pid}" if identity else "an unidentified caller",
            )
        return wrap_handler(handler, identity, refusal)


def wrap_handler(handler: Handler, identity: Identity | None, refusal: BrokerError | None) -> Handler:
    """The handler, refusing with ``refusal`` first if given, else running with :data:`CALLER` set."""

    async def refuse(context: grpc.aio.ServicerContext[Any, Any]) -> None:
        if refusal is not None:
            await abort_with(context, refusal)

    def unary(behavior: Any) -> Any:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await refuse(context)
            reset = CALLER.set(identity)
            try:
                return await behavior(request, context)
            finally:
                CALLER.reset(reset)

        return wrapped

    def streaming(behavior: Any) -> Any:
        if inspect.isasyncgenfunction(behavior):

            async def generator(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
                await refuse(context)
                CALLER.set(identity)  # the call's own task: nothing to restore
                async for item in behavior(request, context):
                    yield item

            return generator
        return unary(behavior)

    return rewrap(handler, unary, streaming)
