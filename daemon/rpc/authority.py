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
import contextlib
import inspect
import json
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import grpc

from broker_client.error_wire import STATUS_BY_KIND, error_metadata
from broker_client.errors import BrokerError, ErrorCode, PolicyRefused
from broker_client.metadata_keys import AUTH_KEY
from daemon.caller import CALLER, Identity
from daemon.rpc import peercred

log = logging.getLogger(__name__)

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"

#: A token outlives no process, and no process keeps one longer than this (clients refresh at half).
TOKEN_TTL = 12 * 3600.0
#: More live tokens than this and the oldest are forgotten (their clients shake hands again).
MAX_TOKENS = 4096

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


class TokenBook:
    """Tokens issued by the handshake, each bound to one live process."""

    def __init__(self, *, ttl: float = TOKEN_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._grants: dict[str, _Grant] = {}

    def issue(self, peer: peercred.PeerCredentials) -> str:
        if len(self._grants) >= MAX_TOKENS:
            self._forget_dead()  # only when full: a sweep reads /proc once per live token
        while len(self._grants) >= MAX_TOKENS:
            self._grants.pop(next(iter(self._grants)))
        token = secrets.token_urlsafe(32)
        self._grants[token] = _Grant(
            Identity(uid=peer.uid, gid=peer.gid, pid=peer.pid), peercred.process_start(peer.pid), self._clock()
        )
        return token

    def resolve(self, token: str | None) -> Identity | None:
        if not token:
            return None
        grant = self._grants.get(token)
        if grant is None:
            return None
        if self._clock() - grant.issued > self.ttl or not peercred.process_alive(grant.identity.pid, grant.start):
            self._grants.pop(token, None)
            return None
        return grant.identity

    def _forget_dead(self) -> None:
        now = self._clock()
        for token, grant in list(self._grants.items()):
            if now - grant.issued > self.ttl or not peercred.process_alive(grant.identity.pid, grant.start):
                del self._grants[token]


class IdentityServer:
    """The handshake socket: one JSON line per connection, then close."""

    def __init__(self, book: TokenBook) -> None:
        self.book = book
        self._server: asyncio.AbstractServer | None = None

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
            token = self.book.issue(peer)
            answer = {"token": token, "uid": peer.uid, "pid": peer.pid, "ttl_seconds": self.book.ttl}
            writer.write((json.dumps(answer) + "\n").encode("ascii"))
            await writer.drain()
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
            await context.abort(
                STATUS_BY_KIND[refusal.code.kind], refusal.message, trailing_metadata=error_metadata(refusal)
            )

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

    kinds = {
        "unary_unary": (grpc.unary_unary_rpc_method_handler, unary),
        "unary_stream": (grpc.unary_stream_rpc_method_handler, streaming),
        "stream_unary": (grpc.stream_unary_rpc_method_handler, unary),
        "stream_stream": (grpc.stream_stream_rpc_method_handler, streaming),
    }
    for attribute, (factory, wrap) in kinds.items():
        behavior = getattr(handler, attribute)
        if behavior is not None:
            return factory(
                wrap(behavior),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
    return handler
