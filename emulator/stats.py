"""Request statistics, as served by ``GET /_emulator/stats``.

Counts every request to the E*TRADE surface (not the admin interface) per route name, per
module and per status, plus rate-limit refusals per module, OAuth failures per problem and
injected faults. Tests and benchmarks read these to prove, for example, that a cache
coalesced ten quote requests into one.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import TypedDict


class Counters(TypedDict):
    """The counters, as JSON."""

    requests_total: int
    requests_by_route: dict[str, int]
    requests_by_module: dict[str, int]
    responses_by_status: dict[str, int]
    rate_limited_total: int
    rate_limited_by_module: dict[str, int]
    oauth_failures_total: int
    oauth_failures_by_problem: dict[str, int]
    faults_injected: int


class StatsDocument(Counters):
    """``GET /_emulator/stats``: the counters plus the current settings."""

    rate_limits: dict[str, float] | None
    latency_ms: list[int]


class Stats:
    """Thread-safe counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._total = 0
            self._routes: Counter[str] = Counter()
            self._modules: Counter[str] = Counter()
            self._statuses: Counter[str] = Counter()
            self._rate_limited: Counter[str] = Counter()
            self._oauth_failures: Counter[str] = Counter()
            self._faults = 0

    def request(self, route: str, module: str | None, status: int) -> None:
        """Count one answered (or dropped: status 0) request."""
        with self._lock:
            self._total += 1
            self._routes[route] += 1
            if module:
                self._modules[module] += 1
            self._statuses[str(status)] += 1

    def rate_limited(self, module: str) -> None:
        """Count a request refused by the rate limiter."""
        with self._lock:
            self._rate_limited[module] += 1

    def oauth_failure(self, problem: str) -> None:
        """Count an OAuth failure by its problem name."""
        with self._lock:
            self._oauth_failures[problem] += 1

    def fault(self) -> None:
        """Count a request an injected fault acted on."""
        with self._lock:
            self._faults += 1

    def snapshot(self) -> Counters:
        """All counters as plain JSON-able data."""
        with self._lock:
            return {
                "requests_total": self._total,
                "requests_by_route": dict(self._routes),
                "requests_by_module": dict(self._modules),
                "responses_by_status": dict(self._statuses),
                "rate_limited_total": sum(self._rate_limited.values()),
                "rate_limited_by_module": dict(self._rate_limited),
                "oauth_failures_total": sum(self._oauth_failures.values()),
                "oauth_failures_by_problem": dict(self._oauth_failures),
                "faults_injected": self._faults,
            }
