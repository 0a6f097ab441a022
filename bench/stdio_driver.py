"""A minimal JSON-RPC driver for stdio MCP servers: exact timings without a client library's overhead."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from typing import Any

PROTOCOL = "2025-11-25"  # what Claude Desktop sends


class StdioServer:
    """A spawned MCP server; ``request`` writes one JSON-RPC line and waits for the matching reply."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.spawned_at = time.perf_counter()
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, bufsize=0
        )
        self._buffer = b""
        self._next_id = 0

    def _readline(self, timeout: float) -> bytes:
        assert self.proc.stdout is not None
        deadline = time.perf_counter() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError("no reply from the server")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise EOFError("the server closed stdout")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")

    def request(self, method: str, params: dict[str, Any] | None = None, timeout: float = 60.0) -> dict[str, Any]:
        self._next_id += 1
        self.send({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params or {}})
        while True:
            reply: dict[str, Any] = json.loads(self._readline(timeout))
            if reply.get("id") == self._next_id:
                return reply

    def initialize(self, timeout: float = 60.0) -> float:
        """Handshake; returns seconds from spawn to the initialize reply."""
        self.request(
            "initialize",
            {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
            timeout=timeout,
        )
        first_reply = time.perf_counter() - self.spawned_at
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return first_reply

    def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        reply = self.request("tools/call", {"name": name, "arguments": arguments})
        if "error" in reply or reply.get("result", {}).get("isError"):
            raise RuntimeError(f"{name} failed: {reply}")
        return reply

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
