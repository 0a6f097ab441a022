"""A loopback HTTP receiver for notification tests: records each request, or holds it (a hanging service)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WAIT_SECONDS = 20.0  # bounded waits only: a request that never comes fails the test


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self) -> None:
        self.requests: queue.Queue[Received] = queue.Queue()
        #: While set to hang, each request is held until ``release`` is set.
        self.hang = False
        self.release = threading.Event()
        self.arrived = threading.Event()
        #: Status codes to answer with, in order; 200 once they run out.
        self.statuses: list[int] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_port

    def url(self, scheme: str, path: str, **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"{scheme}://127.0.0.1:{self.port}/{path}" + (f"?{query}" if query else "")

    def next(self) -> Received:
        return self.requests.get(timeout=WAIT_SECONDS)

    def drain(self) -> list[Received]:
        found = []
        while True:
            try:
                found.append(self.requests.get_nowait())
            except queue.Empty:
                return found


@contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            state.requests.put(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            state.arrived.set()
            if state.hang:
                state.release.wait(WAIT_SECONDS * 3)
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state._server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
