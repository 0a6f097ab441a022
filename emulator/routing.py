"""Requests, responses and the route table.

A :class:`Route` binds a stable name (used by stats and faults), a path pattern, the HTTP
methods, the rate-limit module and an authentication :class:`Guard` to a handler. Handlers
receive a parsed :class:`Request` and return either a :class:`Document` (an E*TRADE-shaped
dict that the server renders as JSON or XML) or a ready :class:`Response`. Adding an API (the
orders task) means adding routes; nothing else in the server changes.

Formats: E*TRADE answers XML by default and JSON when a path segment ends in ``.json`` (at the
end, ``/v1/accounts/list.json``, or right after a collection, ``/v1/accounts/k/portfolio.json/123``)
or when ``Accept`` asks for ``application/json``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from emulator.errors import ApiError


class Format(enum.Enum):
    """Response format chosen by the client."""

    XML = "xml"
    JSON = "json"


class Guard(enum.Enum):
    """What a route requires before its handler runs."""

    #: A valid, active access token (OAuth 1.0a), then the module's rate limit.
    ACCESS_TOKEN = "access_token"
    #: The handler runs its own OAuth flow (the /oauth token endpoints).
    OAUTH_ENDPOINT = "oauth_endpoint"
    #: Nothing: a browser page.
    NONE = "none"


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    #: The path as sent (no query string), used for OAuth signatures and fault prefixes.
    path: str
    #: Query parameters; names lower-cased (E*TRADE accepts ``detailflag`` as well as ``detailFlag``).
    query: dict[str, str]
    #: Header names lower-cased.
    headers: Mapping[str, str]
    body: bytes
    format: Format
    #: The absolute URI the client signed, e.g. ``http://127.0.0.1:8080/v1/accounts/list.json?x=1``.
    uri: str
    base_url: str
    #: The query string as sent (for URLs that echo the request, like paging ``next``).
    raw_query: str = ""
    params: dict[str, str] = field(default_factory=dict)
    #: Set once OAuth succeeds on an ACCESS_TOKEN route.
    consumer_key: str | None = None

    def param(self, name: str) -> str | None:
        """A query parameter by case-insensitive name, or None."""
        return self.query.get(name.lower())

    def bool_param(self, name: str, default: bool = False) -> bool:
        """A ``true``/``false`` query parameter (case-insensitive); 400 on anything else."""
        raw = self.param(name)
        if raw is None or raw == "":
            return default
        lowered = raw.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ApiError.invalid_parameter(name)

    @property
    def json_suffix(self) -> str:
        """``.json`` when answering JSON: E*TRADE's own URLs in JSON responses carry it."""
        return ".json" if self.format is Format.JSON else ""


@dataclass
class Document:
    """An E*TRADE document: ``{root: content}`` in JSON, ``<root>content</root>`` in XML."""

    root: str
    content: Mapping[str, object]
    status: int = 200


@dataclass
class Response:
    """A fully rendered HTTP response."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain;charset=UTF-8") -> Response:
        """A text response (plain, HTML or form-encoded)."""
        return cls(status, text.encode("utf-8"), content_type)

    @classmethod
    def no_content(cls) -> Response:
        """HTTP 204 with an empty body: E*TRADE's "nothing matched"."""
        return cls(204)


Handler = Callable[[Request], Document | Response]


@dataclass(frozen=True)
class Route:
    """One endpoint. ``pattern`` uses ``{name}`` (one non-empty segment), ``{name?}`` (maybe
    empty) and ``{name:int}`` (digits)."""

    name: str
    pattern: str
    handler: Handler
    methods: frozenset[str] = frozenset({"GET"})
    module: str | None = None
    guard: Guard = Guard.ACCESS_TOKEN

    def compile(self) -> re.Pattern[str]:
        """The pattern as an anchored regular expression."""

        def group(match: re.Match[str]) -> str:
            name, kind = match.group(1), match.group(2) or ""
            body = {"": "[^/]+", "?": "[^/]*", ":int": r"\d+"}[kind]
            return f"(?P<{name}>{body})"

        return re.compile("^" + re.sub(r"\{(\w+)(\?|:int)?\}", group, self.pattern) + "$")


def split_format(path: str, accept: str | None) -> tuple[str, Format]:
    """Strip ``.json`` from any path segment; pick the format from it or from ``Accept``."""
    segments = path.split("/")
    fmt = Format.XML
    for index, segment in enumerate(segments):
        if segment.endswith(".json"):
            segments[index] = segment[: -len(".json")]
            fmt = Format.JSON
    if fmt is Format.XML and accept and "application/json" in accept.lower():
        fmt = Format.JSON
    return "/".join(segments), fmt


class NoRoute(Exception):
    """No route matches; ``method_not_allowed`` when the path exists for other methods."""

    def __init__(self, method_not_allowed: bool) -> None:
        super().__init__("method not allowed" if method_not_allowed else "not found")
        self.method_not_allowed = method_not_allowed


class Router:
    """Matches (method, path) to a route and its decoded path parameters."""

    def __init__(self, routes: list[Route]) -> None:
        names = [route.name for route in routes]
        if len(names) != len(set(names)):
            raise ValueError("route names must be unique")
        self.routes = routes
        self._compiled = [(route, route.compile()) for route in routes]

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for ``path`` (already stripped of ``.json``). Raises :class:`NoRoute`."""
        path_matched = False
        for route, regex in self._compiled:
            found = regex.match(path)
            if found is None:
                continue
            path_matched = True
            if method in route.methods:
                return route, {key: unquote(value) for key, value in found.groupdict().items()}
        raise NoRoute(method_not_allowed=path_matched)

    def route_named(self, name: str) -> Route | None:
        """The route with this stable name, if any."""
        return next((route for route in self.routes if route.name == name), None)
