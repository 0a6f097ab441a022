"""The proxy's stdio transport: JSON-RPC lines on fd 0 and fd 1, read and written by the event loop.

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

Messages that pass go to the SDK's server already parsed (each line is parsed once). The SDK's own
stdio transport reads and writes through worker threads, three thread hand-offs per request and
answer (about 0.5 ms of a 1.6 ms tool call on a 2-core machine); here both pipes are served by the
event loop: fd 0 is read only when it is readable, fd 1 written only when it is writable, in pieces
of at most ``PIPE_BUF`` bytes, which a writable pipe takes without blocking. So a cancellation
(SIGINT, SIGTERM) never waits for a blocked read or write, and a client that stops reading stalls
only the answers, never the loop. Descriptors that cannot be polled (a regular file) are read on a
thread and written directly.

While serving, fd 0 points at the null device and fd 1 at stderr (the protocol uses private
duplicates), as with the SDK's transport: a library or child that prints cannot corrupt the wire.

Invariant: stdout carries only whole JSON-RPC messages, each on one line, never interleaved —
except that a signal ends the proxy at once, even in the middle of writing a message (to a client
that stopped reading, finishing it could take forever): the last line may then be cut short.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import anyio.from_thread
import anyio.lowlevel
from mcp.shared._context_streams import create_context_streams
from mcp.shared.message import SessionMessage
from mcp.types import PARSE_ERROR, ErrorData, JSONRPCError, JSONRPCMessage, jsonrpc_message_adapter

if TYPE_CHECKING:
    from anyio.abc import ObjectReceiveStream, ObjectSendStream
    from mcp.server import MCPServer

log = logging.getLogger(__name__)

INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
MAX_PENDING_ANSWERS = 64
READ_SIZE = 1 << 16
#: The most a writable pipe is guaranteed to take without blocking (4096 on Linux, 512 on macOS).
WRITE_PIECE = select.PIPE_BUF
#: The longest line taken: far above any MCP request the proxy serves (a tool call is < 10 kB).
MAX_LINE_BYTES = 4 << 20


@dataclass(frozen=True)
class Verdict:
    """What to do with one line: pass ``message`` on, send ``answer``, or log ``ignored``."""

    message: JSONRPCMessage | None = None
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
    except RecursionError:
        # Tool arguments are the model's JSON: nesting deeper than the parser goes is refused, not fatal.
        return _error(None, PARSE_ERROR, "Parse error: the message is nested too deeply")
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
        parsed = jsonrpc_message_adapter.validate_python(message, by_name=False)
    except RecursionError:
        if "method" in message and has_id:
            return _error(usable_id, INVALID_REQUEST, "Invalid Request: the message is nested too deeply")
        return Verdict(ignored="a message nested too deeply")
    except ValueError as exc:
        if "method" in message and has_id:
            return _error(usable_id, INVALID_REQUEST, "Invalid Request: not a JSON-RPC request", detail=str(exc))
        return Verdict(ignored=f"a message that is not JSON-RPC ({exc})")
    return Verdict(message=parsed)


TOO_LONG = _error(None, PARSE_ERROR, f"Parse error: a message longer than {MAX_LINE_BYTES} bytes")


class ScreenedStdin:
    """The messages on ``fd``, one per line; rejected lines are answered or logged instead."""

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

    async def __aiter__(self) -> AsyncIterator[JSONRPCMessage]:
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
                    elif (message := await self._judge(raw)) is not None:
                        yield message
                if len(pending) > MAX_LINE_BYTES:
                    # Answer now rather than hold an unbounded line in memory; drop it up to its end.
                    if not oversized:
                        await self._answer(TOO_LONG)
                    oversized = True
                    pending.clear()
            if pending and not oversized and (message := await self._judge(bytes(pending))) is not None:
                yield message

    async def _answer(self, verdict: Verdict) -> None:
        assert verdict.answer is not None
        log.warning("stdin: answered %s: %s", verdict.answer.error.code, verdict.answer.error.message)
        await self.answers.send(verdict.answer)

    async def _judge(self, raw: bytes) -> JSONRPCMessage | None:
        verdict = screen(raw)
        if verdict.answer is not None:
            await self._answer(verdict)
        elif verdict.ignored is not None:
            log.warning("stdin: ignored %s", verdict.ignored)
        return verdict.message


class Stdout:
    """Whole lines onto ``fd``, written when it is writable, so the event loop never blocks on it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pollable = True

    async def write_line(self, line: bytes) -> None:
        view = memoryview(line)
        while view:
            if self.pollable:
                try:
                    await anyio.wait_writable(self.fd)
                except (OSError, ValueError):
                    self.pollable = False  # a regular file: writes to it do not wait on a reader
            written = os.write(self.fd, view[:WRITE_PIECE] if self.pollable else view)
            view = view[written:]


@contextlib.contextmanager
def claimed_stdio() -> Iterator[tuple[int, int]]:
    """Private duplicates of fd 0 and fd 1 for the protocol; meanwhile 0 reads /dev/null and 1 is stderr.

    Both are put back on exit, after ``sys.stdout`` is flushed: what was printed meanwhile and still
    sits in its buffer goes to stderr, not onto the wire. Yields (protocol input fd, protocol output fd).
    """
    wire_in = os.dup(0)
    wire_out = os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
        os.dup2(2, 1)
    finally:
        os.close(null)
    try:
        yield wire_in, wire_out
    finally:
        # A pipe's sys.stdout is block-buffered (without PYTHONUNBUFFERED, as MCP clients start us):
        # unflushed, a print made while serving would reach the wire when the interpreter exits.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stdout.flush()
        os.dup2(wire_in, 0)
        os.dup2(wire_out, 1)
        os.close(wire_in)
        os.close(wire_out)


async def serve(server: MCPServer) -> int:
    """Serve ``server`` on stdin/stdout until stdin ends or the client closes stdout (0), or
    SIGINT/SIGTERM (128 + the signal)."""
    lowlevel = server._lowlevel_server
    stopped_by: list[int] = []
    with claimed_stdio() as (wire_in, wire_out):
        # The context streams carry each sender's contextvars to the server, as the SDK's transports do.
        to_server, from_client = create_context_streams[SessionMessage | Exception](0)
        to_client, from_server = create_context_streams[SessionMessage](0)
        answers_in, answers_out = anyio.create_memory_object_stream[JSONRPCError](MAX_PENDING_ANSWERS)
        async with anyio.create_task_group() as group:
            group.start_soon(_stop_on_signal, group.cancel_scope, stopped_by)
            # The wire's tasks end by themselves once stdin has ended and every answer is written.
            async with anyio.create_task_group() as wire:
                wire.start_soon(_read_messages, ScreenedStdin(wire_in, answers_in), to_server)
                wire.start_soon(_send_answers, answers_out, to_client.clone())
                wire.start_soon(_write_messages, from_server, Stdout(wire_out), group.cancel_scope)
                async with to_client:
                    await lowlevel.run(from_client, to_client, lowlevel.create_initialization_options())
            group.cancel_scope.cancel()
    return 128 + stopped_by[0] if stopped_by else 0


async def _read_messages(stdin: ScreenedStdin, to_server: Any) -> None:
    async with to_server:
        async for message in stdin:
            await to_server.send(SessionMessage(message))


async def _write_messages(from_server: Any, stdout: Stdout, scope: anyio.CancelScope) -> None:
    async with from_server:
        async for session_message in from_server:
            line = session_message.message.model_dump_json(by_alias=True, exclude_unset=True)
            try:
                await stdout.write_line(line.encode() + b"\n")
            except (BrokenPipeError, ConnectionResetError):
                # Nobody will read an answer again: the client is gone, as at the end of stdin.
                log.info("stopping: the client closed stdout")
                scope.cancel()
                return


async def _send_answers(answers: ObjectReceiveStream[JSONRPCError], to_client: Any) -> None:
    async with answers, to_client:
        async for answer in answers:
            try:
                await to_client.send(SessionMessage(answer))
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
