"""HTTP serving: the stdlib ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive) and the dispatcher.

The dispatcher turns a raw request into a response in this order: admin interface (no OAuth,
no latency, not counted) → route match (404/405) → injected fault → OAuth → rate limit →
handler → render (XML by default, JSON on ``.json``/``Accept``). Latency is drawn for every
``/oauth`` and ``/v1`` response and slept in the connection's thread, outside every lock.

Hygiene: the access log prints method, path without the query string, and status — never
headers, tokens, secrets or verifiers. Any unexpected exception in a handler becomes a 500
with an E*TRADE ``Error`` body; the server keeps serving.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from emulator import errors
from emulator.errors import ApiError, OAuthProblem, RateLimited
from emulator.faults import FaultRegistry
from emulator.holds import Hold, HoldRegistry
from emulator.limits import RATE_LIMIT_PAGE, Latency, RateLimiter
from emulator.oauth import OAuthService, oauth_error_page, oauth_status_page
from emulator.routing import Document, Format, Guard, NoRoute, Request, Response, Route, Router, split_format
from emulator.stats import Stats
from emulator.xml import to_xml

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
ADMIN_PREFIX = "/_emulator"
#: Paths that get the configured latency (E*TRADE's surface, not the admin interface).
LATENCY_PREFIXES = ("/oauth/", "/v1/")
OAUTH_PREFIX = "/oauth/"


@dataclass
class Outcome:
    """What the connection should do: answer (after ``delay`` seconds) or drop."""

    response: Response | None
    delay: float = 0.0
    route: str = "-"
    #: Park the answer until this hold is released (a ``hold`` fault).
    hold: Hold | None = None

    @property
    def dropped(self) -> bool:
        """Close the connection without answering."""
        return self.response is None


def render(result: Document | Response, fmt: Format) -> Response:
    """A handler's result as bytes in the client's format."""
    if isinstance(result, Response):
        return result
    if fmt is Format.JSON:
        body = json.dumps({result.root: result.content}, separators=(",", ":"))
        return Response(result.status, body.encode("utf-8"), "application/json")
    return Response(result.status, to_xml(result.root, result.content).encode("utf-8"), "application/xml")


def render_error(error: ApiError, fmt: Format) -> Response:
    """E*TRADE's ``Error`` object in the client's format."""
    return render(Document("Error", error.payload(), error.status), fmt)


class Dispatcher:
    """Routes a raw request through faults, OAuth, limits and handlers. Pure of socket I/O."""

    def __init__(
        self,
        router: Router,
        admin: Callable[[str, str, str, bytes], Response],
        oauth: OAuthService,
        limiter: RateLimiter,
        latency: Latency,
        faults: FaultRegistry,
        stats: Stats,
        base_url: Callable[[], str],
        holds: HoldRegistry | None = None,
    ) -> None:
        self.holds = holds or HoldRegistry()
        self.router = router
        self.admin = admin
        self.oauth = oauth
        self.limiter = limiter
        self.latency = latency
        self.faults = faults
        self.stats = stats
        self.base_url = base_url

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Outcome:
        """Answer one request. ``target`` is the request-target (path and query)."""
        split = urlsplit(target)
        path, raw_query = split.path or "/", split.query
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            return Outcome(self.admin(method, path, raw_query, body), route="admin")
        route_path, fmt = split_format(path, headers.get("accept"))
        query: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            query.setdefault(key.lower(), value)
        base = self.base_url()
        host = headers.get("host") or base.removeprefix("http://")
        request = Request(
            method=method,
            path=path,
            query=query,
            headers=headers,
            body=body,
            format=fmt,
            uri=f"http://{host}{path}" + (f"?{raw_query}" if raw_query else ""),
            base_url=base,
            raw_query=raw_query,
        )
        delay = self.latency.draw_seconds() if path.startswith(LATENCY_PREFIXES) else 0.0
        try:
            route, request.params = self.router.match(method, route_path)
        except NoRoute as missing:
            if path.startswith(OAUTH_PREFIX):
                # Every failure under /oauth has the same shape: the Tomcat page E*TRADE's token
                # endpoints answer with, never an Error document.
                response = oauth_status_page(405 if missing.method_not_allowed else 404, method)
                self.stats.request("unknown", None, response.status)
                return Outcome(response, delay, "unknown")
            if missing.method_not_allowed:
                error = ApiError(405, None, f"HTTP method {method} is not supported by this URL")
            else:
                error = ApiError(404, None, "The requested resource is not available.")
            response = render_error(error, fmt)
            self.stats.request("unknown", None, response.status)
            return Outcome(response, delay, "unknown")

        fault = self.faults.take(route.name, path)
        if fault is not None:
            self.stats.fault()
            delay += fault.latency_ms / 1000.0
            if fault.drop:
                self.stats.request(route.name, route.module, 0)
                return Outcome(None, delay, route.name)
        if fault is not None and fault.status is not None:
            message = fault.message if fault.message is not None else "Injected fault."
            response = render_error(ApiError(fault.status, fault.code, message), fmt)
        else:
            response = self._run(route, request)
        self.stats.request(route.name, route.module, response.status)
        parked = None
        if fault is not None and fault.hold:
            parked = self.holds.hold(route.name, self.oauth.clock.now())
            log.info("holding the response of %s (hold %d) until released", route.name, parked.id)
        return Outcome(response, delay, route.name, parked)

    def _run(self, route: Route, request: Request) -> Response:
        try:
            if route.guard is Guard.ACCESS_TOKEN:
                consumer_key = self.oauth.verify_resource(request)
                request.consumer_key = consumer_key
                if route.module is not None and not self.limiter.allow(consumer_key, route.module):
                    raise RateLimited(route.module)
            return render(route.handler(request), request.format)
        except OAuthProblem as problem:
            self.stats.oauth_failure(problem.problem)
            if route.guard is Guard.OAUTH_ENDPOINT:
                return oauth_error_page(problem)
            return render_error(ApiError(problem.status, None, problem.text), request.format)
        except RateLimited as refused:
            self.stats.rate_limited(refused.module)
            return Response.text(400, RATE_LIMIT_PAGE, "text/html;charset=utf-8")
        except ApiError as error:
            return render_error(error, request.format)
        except Exception:
            # A bug in a handler must not take the server down; log without request details.
            log.exception("handler for route %s failed", route.name)
            return render_error(ApiError(500, *errors.SERVICE_UNAVAILABLE), request.format)


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Threaded server that remembers its open connections so ``stop()`` can close them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hung up (timeout, dropped fault) is routine; anything else is a bug.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            log.debug("client connection closed early: %s", type(exc).__name__)
        else:
            log.exception("unexpected error while serving a connection")

    def close_connections(self) -> None:
        """Shut down every open keep-alive connection (their threads then exit)."""
        with self.connections_lock:
            open_connections = list(self.connections)
        for conn in open_connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms per keep-alive request).
    disable_nagle_algorithm = True
    server_version = "etrade-emulator"
    sys_version = ""
    # Idle keep-alive connections are closed after this many seconds.
    timeout = 60
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header follows the server's notion of real time, which the clock-skew fault
        # shifts: a client comparing its clock with Date sees the same skew that OAuth refuses.
        now = time.time() if timestamp is None else timestamp
        return super().date_time_string(now + self.server.dispatcher.faults.skew_seconds())

    def log_message(self, format: str, *args: object) -> None:
        # The stdlib's log lines contain the full request line (query strings can carry OAuth
        # parameters); the dispatcher's access log is written by _serve instead.
        return

    def _serve(self) -> None:
        method = self.command
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            self._write(Response.text(400 if length < 0 else 413, "Bad request body length\n"))
            return
        body = self.rfile.read(length) if length else b""
        # Lower-cased names: HTTP header names are case-insensitive.
        headers = {key.lower(): value for key, value in self.headers.items()}
        try:
            outcome = self.server.dispatcher.handle(method, self.path, headers, body)
        except Exception:
            # Last line of defence: a malformed request must never cost the client an answer.
            log.exception("dispatch failed")
            outcome = Outcome(render_error(ApiError(500, *errors.SERVICE_UNAVAILABLE), Format.XML))
        if outcome.delay > 0:
            time.sleep(outcome.delay)
        if outcome.hold is not None:
            self.server.dispatcher.holds.wait_released(outcome.hold)
        path = urlsplit(self.path).path
        if outcome.response is None:
            log.info("%s %s dropped (fault)", method, path)
            self.close_connection = True
            return
        self._write(outcome.response)
        log.info("%s %s %d", method, path, outcome.response.status)

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status != 204:
            if response.content_type:
                self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if response.status != 204 and self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve
