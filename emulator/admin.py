"""The admin interface under ``/_emulator/``: JSON in and out, no OAuth, no latency.

It lets scripts and tests steer the emulator: move or freeze the clock, inject faults, read the
verifier of a pending login without a browser, read and reset request statistics, change
latency and rate limits at run time, and inspect or empty accounts. See README.md for curl
examples. It is not part of E*TRADE's API and is never counted in the statistics.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from emulator.book import Account, Book
from emulator.clock import Clock
from emulator.faults import FaultRegistry
from emulator.holds import HoldRegistry
from emulator.limits import Latency, RateLimiter
from emulator.market import Market
from emulator.oauth import OAuthService
from emulator.orders import OrderEngine
from emulator.routing import Format, Guard, NoRoute, Request, Response, Route, Router
from emulator.stats import Stats, StatsDocument


class AdminError(Exception):
    """A bad admin request: answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json(status: int, payload: object) -> Response:
    return Response(status, json.dumps(payload, indent=2).encode("utf-8") + b"\n", "application/json")


def _body(request: Request) -> dict[str, object]:
    if not request.body.strip():
        return {}
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AdminError(400, f"the body must be a JSON object: {exc}") from exc
    if not isinstance(payload, dict):
        raise AdminError(400, "the body must be a JSON object")
    return payload


@dataclass
class AdminApi:
    """The admin endpoints, over the emulator's components."""

    clock: Clock
    book: Book
    oauth: OAuthService
    faults: FaultRegistry
    stats: Stats
    limiter: RateLimiter
    latency: Latency
    base_url: Callable[[], str]
    market: Market
    orders: OrderEngine | None = None
    holds: HoldRegistry = field(default_factory=HoldRegistry)

    def __post_init__(self) -> None:
        p = "/_emulator"
        g = Guard.NONE
        self.router = Router(
            [
                Route("health", f"{p}/health", self.health, guard=g),
                Route("clock", f"{p}/clock", self.clock_endpoint, frozenset({"GET", "POST"}), guard=g),
                Route("faults", f"{p}/faults", self.faults_endpoint, frozenset({"GET", "POST", "DELETE"}), guard=g),
                Route("authorizations", f"{p}/authorizations", self.authorizations, guard=g),
                Route("sessions", f"{p}/sessions", self.sessions, guard=g),
                Route("stats", f"{p}/stats", self.stats_endpoint, guard=g),
                Route("stats_reset", f"{p}/stats/reset", self.stats_reset, frozenset({"POST"}), guard=g),
                Route("config", f"{p}/config", self.config_endpoint, frozenset({"GET", "POST"}), guard=g),
                Route("accounts", f"{p}/accounts", self.accounts, guard=g),
                Route("orders", f"{p}/orders", self.orders_endpoint, guard=g),
                Route("prices", f"{p}/prices", self.prices, frozenset({"POST"}), guard=g),
                Route("holds", f"{p}/holds", self.holds_endpoint, guard=g),
                Route("holds_release", f"{p}/holds/release", self.holds_release, frozenset({"POST"}), guard=g),
                Route(
                    "clear_positions",
                    f"{p}/accounts/{{accountIdKey}}/positions",
                    self.clear_positions,
                    frozenset({"DELETE"}),
                    guard=g,
                ),
            ]
        )

    def handle(self, method: str, path: str, raw_query: str, body: bytes) -> Response:
        """Answer one admin request."""
        query = {k.lower(): v for k, v in parse_qsl(raw_query, keep_blank_values=True)}
        base = self.base_url()
        request = Request(method, path, query, {}, body, Format.JSON, base + path, base)
        try:
            route, request.params = self.router.match(method, path.rstrip("/") or "/")
            result = route.handler(request)
        except NoRoute as missing:
            if missing.method_not_allowed:
                return _json(405, {"error": f"{method} is not allowed on {path}"})
            return _json(404, {"error": f"no admin endpoint {path}"})
        except AdminError as error:
            return _json(error.status, {"error": error.message})
        assert isinstance(result, Response)
        return result

    # -- endpoints -----------------------------------------------------------------------
    def health(self, request: Request) -> Response:
        """``GET /_emulator/health``."""
        return _json(200, {"status": "ok", "base_url": self.base_url(), "now": self.clock.now().isoformat()})

    def clock_endpoint(self, request: Request) -> Response:
        """``GET|POST /_emulator/clock``: ``{"set": ISO}``, ``{"advance_seconds": N}``, ``{"freeze": bool}``."""
        if request.method == "POST":
            body = _body(request)
            unknown = set(body) - {"set", "advance_seconds", "freeze"}
            if unknown:
                raise AdminError(400, f"unknown clock fields: {', '.join(sorted(unknown))}")
            if "set" in body:
                raw = body["set"]
                try:
                    moment = datetime.fromisoformat(str(raw))
                    self.clock.set(moment)
                except ValueError as exc:
                    raise AdminError(400, f"set must be an ISO 8601 instant with a UTC offset: {exc}") from exc
            if "advance_seconds" in body:
                seconds = body["advance_seconds"]
                if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                    raise AdminError(400, "advance_seconds must be a number")
                self.clock.advance(timedelta(seconds=seconds))
            if "freeze" in body:
                freeze = body["freeze"]
                if not isinstance(freeze, bool):
                    raise AdminError(400, "freeze must be true or false")
                if freeze:
                    self.clock.freeze()
                else:
                    self.clock.unfreeze()
        return _json(200, self.clock.describe())

    def faults_endpoint(self, request: Request) -> Response:
        """``GET|POST|DELETE /_emulator/faults``."""
        if request.method == "POST":
            try:
                installed = self.faults.add(_body(request))
            except ValueError as exc:
                raise AdminError(400, str(exc)) from exc
            return _json(201, installed)
        if request.method == "DELETE":
            self.faults.clear()
        return _json(200, self.faults.describe())

    def authorizations(self, request: Request) -> Response:
        """``GET /_emulator/authorizations``: pending request tokens and their verifiers."""
        return _json(200, {"authorizations": self.oauth.authorizations()})

    def sessions(self, request: Request) -> Response:
        """``GET /_emulator/sessions``: access tokens' states (token prefixes only)."""
        return _json(200, {"sessions": self.oauth.sessions()})

    def stats_document(self) -> StatsDocument:
        """Counters plus the current limits and latency: the body of ``GET /_emulator/stats``."""
        return StatsDocument(
            **self.stats.snapshot(), rate_limits=self.limiter.limits, latency_ms=list(self.latency.range_ms)
        )

    def stats_endpoint(self, request: Request) -> Response:
        """``GET /_emulator/stats``."""
        return _json(200, self.stats_document())

    def stats_reset(self, request: Request) -> Response:
        """``POST /_emulator/stats/reset``."""
        self.stats.reset()
        return _json(200, self.stats_document())

    def config_document(self) -> dict[str, object]:
        """The run-time configuration."""
        return {"latency_ms": list(self.latency.range_ms), "rate_limits": self.limiter.limits}

    def config_endpoint(self, request: Request) -> Response:
        """``GET|POST /_emulator/config``: ``{"latency_ms": [lo, hi] | N | "lo-hi", "rate_limits": {...} | null}``."""
        if request.method == "POST":
            body = _body(request)
            unknown = set(body) - {"latency_ms", "rate_limits"}
            if unknown:
                raise AdminError(400, f"unknown config fields: {', '.join(sorted(unknown))}")
            try:
                if "latency_ms" in body:
                    self.latency.configure(body["latency_ms"])
                if "rate_limits" in body:
                    limits = body["rate_limits"]
                    if limits is not None and not isinstance(limits, dict):
                        raise ValueError("rate_limits must be an object of module: requests per second, or null")
                    self.limiter.configure(limits)
            except ValueError as exc:
                raise AdminError(400, str(exc)) from exc
        return _json(200, self.config_document())

    @staticmethod
    def _account(account: Account) -> dict[str, object]:
        return {
            "accountIdKey": account.account_id_key,
            "accountId": account.account_id,
            "accountName": account.account_name,
            "accountMode": account.account_mode,
            "accountStatus": account.account_status,
            "cash": account.cash,
            "positions": len(account.positions),
        }

    def accounts(self, request: Request) -> Response:
        """``GET /_emulator/accounts``: the book at a glance."""
        with self.book.lock:
            return _json(200, {"accounts": [self._account(a) for a in self.book.accounts()]})

    def orders_endpoint(self, request: Request) -> Response:
        """``GET /_emulator/orders[?account=KEY]``: every order (newest first) after fills are applied."""
        if self.orders is None:
            return _json(200, {"orders": []})
        self.orders.sync()
        account = request.param("account")
        return _json(200, {"orders": [o.describe() for o in self.orders.orders(account or None)]})

    def prices(self, request: Request) -> Response:
        """``POST /_emulator/prices``: ``{"symbol": "KO", "factor": 1.9}`` or ``{"symbol": "KO", "price": 120.5}``.

        Moves the symbol's price now (on the emulator's clock); quotes, bid/ask, portfolio values and
        fills follow from the new price. Answers the symbol's new last, bid and ask.
        """
        body = _body(request)
        unknown = set(body) - {"symbol", "factor", "price"}
        if unknown:
            raise AdminError(400, f"unknown price fields: {', '.join(sorted(unknown))}")
        symbol = body.get("symbol")
        if not isinstance(symbol, str) or not symbol.strip():
            raise AdminError(400, "symbol must be a ticker symbol the emulator knows, e.g. KO")
        values: dict[str, float] = {}
        for name in ("factor", "price"):
            raw = body.get(name)
            if raw is None:
                continue
            if isinstance(raw, bool) or not isinstance(raw, int | float) or not raw > 0:
                raise AdminError(400, f"{name} must be a positive number")
            values[name] = float(raw)
        if len(values) != 1:
            raise AdminError(400, "give exactly one of factor (e.g. 1.9) or price (e.g. 120.5)")
        try:
            snapshot = self.market.move(symbol.strip().upper(), self.clock.now(), **values)
        except KeyError:
            raise AdminError(404, f"the emulator has no symbol {symbol.strip()[:12]!r}") from None
        except ValueError as exc:
            raise AdminError(400, str(exc)) from exc
        return _json(200, {"symbol": snapshot.symbol, "last": snapshot.last, "bid": snapshot.bid, "ask": snapshot.ask})

    def holds_endpoint(self, request: Request) -> Response:
        """``GET /_emulator/holds[?wait=SECONDS]``: parked responses; ``wait`` blocks (at most 60 s)
        until at least one is parked, so a test can act the moment the broker has acted."""
        raw = request.param("wait")
        if raw:
            try:
                wait = float(raw)
            except ValueError:
                raise AdminError(400, "wait must be a number of seconds") from None
            if not 0 <= wait <= 60:
                raise AdminError(400, "wait must be between 0 and 60 seconds")
            held = self.holds.wait_for(wait)
        else:
            held = self.holds.held()
        return _json(200, {"holds": [h.describe() for h in held]})

    def holds_release(self, request: Request) -> Response:
        """``POST /_emulator/holds/release``: ``{}`` releases every parked response, ``{"id": N}`` one."""
        body = _body(request)
        unknown = set(body) - {"id"}
        if unknown:
            raise AdminError(400, f"unknown fields: {', '.join(sorted(unknown))}")
        hold_id = body.get("id")
        if hold_id is not None and (isinstance(hold_id, bool) or not isinstance(hold_id, int)):
            raise AdminError(400, "id must be an integer")
        return _json(200, {"released": self.holds.release(hold_id)})

    def clear_positions(self, request: Request) -> Response:
        """``DELETE /_emulator/accounts/{accountIdKey}/positions``: empty that portfolio."""
        try:
            account = self.book.clear_positions(request.params["accountIdKey"])
        except KeyError as exc:
            raise AdminError(404, "no such account") from exc
        return _json(200, self._account(account))
