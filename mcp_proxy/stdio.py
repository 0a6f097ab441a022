"""The proxy's stdio transport: the SDK's ``stdio_server``, fed through a screen of our own.

The SDK's stdio transport drops every line it cannot turn into a JSON-RPC message, silently: the
client then waits for its own timeout. Here each line from stdin is screened first, and what is
not a message the SDK can take is answered the way JSON-RPC 2.0 says (or, where it says nothing
may be answered, logged on stderr):

- not UTF-8, or not JSON: -32700 (parse error), id null;
- a JSON array (a batch: MCP dropped batching in 2025-06-18), a non-object, an id that is neither
  a string nor an integer, a ``jsonrpc`` other than "2.0", a method that is not a string, or
  something that is neither request, notification nor response: -32600 (invalid request), with
  the request's id when it has a usable one, else null;
- a request whose ``params`` is not an object (MCP's params are always named): -32602;
- a notification or a response that is malformed: logged, never answered (JSON-RPC forbids it);
- a line longer than :data:`MAX_LINE_BYTES`: -32700 as soon as it is that long, then skipped to its
  end (never held whole in memory).

Lines that pass go to the SDK unchanged. The screen reads fd 0 only when it is readable, so a
cancellation (SIGINT, SIGTERM) never waits for a blocked read in a worker thread; that is also why
stdin is read here rather than by the SDK, which reads it in a thread. Answers are sent on the
SDK's write stream, so they never interleave with its own output.

Invariant: stdout carries only whole JSON-RPC messages, each on one line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import anyio
import anyio.from_thread
import anyio.lowlevel
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import PARSE_ERROR, ErrorData, JSONRPCError, jsonrpc_message_adapter

if TYPE_CHECKING:
    from anyio.abc import ObjectSendStream
    from mcp.server import MCPServer

log = logging.getLogger(__name__)

INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
MAX_PENDING_ANSWERS = 64
READ_SIZE = 1 << 16
#: The longest line taken: far above any MCP request the proxy serves (a tool call is < 10 kB).
MAX_LINE_BYTES = 4 << 20


@dataclass(frozen=True)
class Verdict:
    """What to do with one line: pass ``line`` on, send ``answer``, or log ``ignored``."""

    line: str | None = None
    answer: JSONRPCError | None = None
    ignored: str | None = None


def _error(request_id: str | int | None, code: int, message: str, **data: Any) -> Verdict:
    return Verdict(
        answer=JSONRPCError(
            jsonrpc="2.0", id=request_id, error=ErrorData(code=code, message=message, data=data or None)
        )
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def screen(raw: bytes) -> Verdict:
    """The verdict on one line of stdin (without its newline)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _error(None, PARSE_ERROR, "Parse error: the message is not valid UTF-8", byte_offset=exc.start)
    if not text.strip():
        return Verdict()  # a blank line between messages: nothing to say
    try:
        message = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        return _error(None, PARSE_ERROR, f"Parse error: the message is not JSON ({exc})")
    if isinstance(message, list):
        return _error(
            None,
            INVALID_REQUEST,
            "Invalid Request: batches (JSON arrays) are not supported; send one JSON-RPC message per line",
        )
    if not isinstance(message, dict):
        return _error(
            None, INVALID_REQUEST, f"Invalid Request: a message is a JSON object, not a {type(message).__name__}"
        )

    has_id = "id" in message
    raw_id = message.get("id")
    usable_id = (
        raw_id if isinstance(raw_id, str) or (isinstance(raw_id, int) and not isinstance(raw_id, bool)) else None
    )
    if has_id and usable_id is None:
        return _error(None, INVALID_REQUEST, "Invalid Request: id must be a string or an integer", id=raw_id)
    if message.get("jsonrpc") != "2.0":
        return _error(
            usable_id, INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"', jsonrpc=message.get("jsonrpc")
        )

    if "method" in message:
        method = message["method"]
        if not isinstance(method, str):
            return _error(usable_id, INVALID_REQUEST, "Invalid Request: method must be a string")
        params = message.get("params")
        if "params" in message and not isinstance(params, dict):
            kind = type(params).__name__
            if has_id:
                return _error(usable_id, INVALID_PARAMS, f"Invalid params: params must be an object, not a {kind}")
            return Verdict(ignored=f"notification {method!r} with params that are a {kind}, not an object")
    elif has_id and (("result" in message) != ("error" in message)):
        pass  # a response (to a request of ours, e.g. a ping)
    elif "result" in message or "error" in message:
        return Verdict(ignored="a response without an id, or with both result and error")
    else:
        return _error(
            usable_id,
            INVALID_REQUEST,
            "Invalid Request: a message needs a method (request, notification) or a result or error (response)",
        )

    try:
        jsonrpc_message_adapter.validate_python(message, by_name=False)
    except ValueError as exc:
        if "method" in message and has_id:
            return _error(usable_id, INVALID_REQUEST, "Invalid Request: not a JSON-RPC request", detail=str(exc))
        return Verdict(ignored=f"a message that is not JSON-RPC ({exc})")
    return Verdict(line=text)


TOO_LONG = _error(None, PARSE_ERROR, f"Parse error: a message longer than {MAX_LINE_BYTES} bytes")


class ScreenedStdin:
    """Lines of fd 0 for the SDK's stdio transport; rejected ones are answered or logged instead."""

    def __init__(self, fd: int, answers: ObjectSendStream[JSONRPCError]) -> None:
        self.fd = fd
        self.answers = answers

    async def _chunks(self) -> AsyncIterator[bytes]:
        while True:
            try:
                await anyio.wait_readable(self.fd)
            except (OSError, ValueError):
                # Not pollable here (a regular file under epoll, a tty under some kqueues).
                async for chunk in self._chunks_from_thread():
                    yield chunk
                return
            chunk = os.read(self.fd, READ_SIZE)
            if not chunk:
                return
            yield chunk

    async def _chunks_from_thread(self) -> AsyncIterator[bytes]:
        """Blocking reads on a daemon thread: one that never ends cannot hold up the exit."""
        send, receive = anyio.create_memory_object_stream[bytes](1)
        token = anyio.lowlevel.current_token()

        def pump() -> None:
            # Ends quietly once the loop is gone or the stream closed (the server stopped).
            with contextlib.suppress(Exception):
                while chunk := os.read(self.fd, READ_SIZE):
                    anyio.from_thread.run(send.send, chunk, token=token)
                anyio.from_thread.run(send.aclose, token=token)

        threading.Thread(target=pump, name="etrade-mcp stdin", daemon=True).start()
        async with receive:
            async for chunk in receive:
                yield chunk

    async def __aiter__(self) -> AsyncIterator[str]:
        pending = bytearray()
        oversized = False  # skipping the rest of a line that was too long
        async with self.answers:
            async for chunk in self._chunks():
                pending += chunk
                while (end := pending.find(b"\n")) >= 0:
                    raw = bytes(pending[:end]).rstrip(b"\r")
                    del pending[: end + 1]
                    if oversized:
                        oversized = False
                    elif len(raw) > MAX_LINE_BYTES:
                        await self._answer(TOO_LONG)
                    elif (line := await self._judge(raw)) is not None:
                        yield line
                if len(pending) > MAX_LINE_BYTES:
                    # Answer now rather than hold an unbounded line in memory; drop it up to its end.
                    if not oversized:
                        await self._answer(TOO_LONG)
                    oversized = True
                    pending.clear()
            if pending and not oversized and (line := await self._judge(bytes(pending))) is not None:
                yield line

    async def _answer(self, verdict: Verdict) -> None:
        assert verdict.answer is not None
        log.warning("stdin: answered %s: %s", verdict.answer.error.code, verdict.answer.error.message)
        await self.answers.send(verdict.answer)

    async def _judge(self, raw: bytes) -> str | None:
        verdict = screen(raw)
        if verdict.answer is not None:
            await self._answer(verdict)
        elif verdict.ignored is not None:
            log.warning("stdin: ignored %s", verdict.ignored)
        return verdict.line


async def serve(server: MCPServer) -> int:
    """Serve ``server`` on stdin/stdout until stdin ends (0) or SIGINT/SIGTERM (128 + the signal)."""
    lowlevel = server._lowlevel_server
    answers_in, answers_out = anyio.create_memory_object_stream[JSONRPCError](MAX_PENDING_ANSWERS)
    stdin = ScreenedStdin(sys.stdin.fileno(), answers_in)
    stopped_by: list[int] = []
    async with anyio.create_task_group() as group:
        group.start_soon(_stop_on_signal, group.cancel_scope, stopped_by)
        # The SDK types stdin as an anyio file of text; it only iterates it line by line.
        async with stdio_server(stdin=cast(Any, stdin)) as (read_stream, write_stream):
            group.start_soon(_send_answers, answers_out, write_stream)
            await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
        group.cancel_scope.cancel()
    return 128 + stopped_by[0] if stopped_by else 0


async def _send_answers(answers: Any, write_stream: ObjectSendStream[SessionMessage]) -> None:
    async with answers:
        async for answer in answers:
            try:
                await write_stream.send(SessionMessage(answer))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return


async def _stop_on_signal(scope: anyio.CancelScope, stopped_by: list[int]) -> None:
    """End the server on the first SIGINT or SIGTERM: a client's Ctrl-C or its shutdown."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            log.info("stopping on %s", signal.Signals(signum).name)
            stopped_by.append(signum)
            scope.cancel()
            return
