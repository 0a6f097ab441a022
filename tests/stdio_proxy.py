"""A raw JSON-RPC driver of a real ``etrade-mcp`` subprocess over its stdio.

The SDK's client validates what it sends, so it cannot send the malformed messages that the
proxy must answer; this driver writes bytes and reads each stdout line as one JSON message.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import Any

from emulator.local_system import ROOT

PROTOCOL_VERSION = "2025-11-25"
TIMEOUT = 30.0


class StdioProxy:
    """``python -m mcp_proxy`` with pipes on all three standard streams."""

    def __init__(self, env: dict[str, str], args: Sequence[str] = (), *, wrapper: Sequence[str] = ()) -> None:
        """``wrapper``: a command that runs the proxy, e.g. ``setpriv`` to run it as another user."""
        self.popen = subprocess.Popen(
            [*wrapper, sys.executable, "-m", "mcp_proxy", *args],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.stderr_lines: list[str] = []
        self._stderr_changed = threading.Condition()
        self.stdout_lines: queue.Queue[bytes] = queue.Queue()
        self._next_id = 0
        self._threads = [
            threading.Thread(target=self._drain_stdout, daemon=True),
            threading.Thread(target=self._drain_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _drain_stdout(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.stdout_lines.put(line)

    def _drain_stderr(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            with self._stderr_changed:
                self.stderr_lines.append(line.decode("utf-8", "replace").rstrip("\n"))
                self._stderr_changed.notify_all()

    def wait_for_stderr(self, text: str, timeout: float = TIMEOUT) -> None:
        """Return once ``text`` is in a stderr line (stderr is read on its own thread: it may lag stdout)."""
        with self._stderr_changed:
            if not self._stderr_changed.wait_for(lambda: text in self.stderr_text, timeout):
                raise AssertionError(f"etrade-mcp never logged {text!r}; stderr:\n{self.stderr_text}")

    @property
    def stderr_text(self) -> str:
        return "\n".join(self.stderr_lines)

    def send_raw(self, data: bytes) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(data if data.endswith(b"\n") else data + b"\n")
        self.popen.stdin.flush()

    def send(self, message: Any) -> None:
        self.send_raw(json.dumps(message).encode("utf-8"))

    def read(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next message on stdout (every line must be one JSON-RPC message)."""
        try:
            line = self.stdout_lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"etrade-mcp wrote nothing within {timeout} s; stderr:\n{self.stderr_text}") from None
        message = json.loads(line)
        assert isinstance(message, dict), line
        return message

    def response(self, request_id: Any = None, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next response (result or error) to ``request_id``, skipping notifications."""
        while True:
            message = self.read(timeout)
            if "method" not in message and message.get("id") == request_id:
                return message

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self._next_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return self.response(self._next_id)

    def initialize(self) -> dict[str, Any]:
        answer = self.request(
            "initialize",
            {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}},
        )
        assert "result" in answer, answer
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return answer

    def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The ``tools/call`` answer: a result (maybe ``isError``) or a JSON-RPC error."""
        return self.request("tools/call", {"name": name, "arguments": arguments})

    def signal(self, signum: signal.Signals) -> None:
        self.popen.send_signal(signum)

    def wait(self, timeout: float = TIMEOUT) -> int:
        code = self.popen.wait(timeout)
        for thread in self._threads:
            thread.join(timeout)
        return code

    def close(self) -> int:
        """Close stdin (the end of the conversation) and wait for the exit."""
        if self.popen.stdin is not None and not self.popen.stdin.closed:
            self.popen.stdin.close()
        try:
            return self.wait()
        finally:
            if self.popen.poll() is None:
                self.popen.kill()
                self.popen.wait(TIMEOUT)

    def __enter__(self) -> StdioProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(TIMEOUT)
        for pipe in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()


def tool_text(answer: dict[str, Any]) -> str:
    result = answer.get("result") or {}
    return " ".join(block.get("text", "") for block in result.get("content", []))
