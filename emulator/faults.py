"""Injected faults: make chosen requests fail, slow down or lose their connection.

A fault matches a route name (``quote``, ``balance``, …) or a path prefix (``/v1/market``) and
acts on the next ``count`` matching requests (or on every one until cleared):

- ``status`` (+ optional ``code``/``message``): answer that HTTP status with an E*TRADE
  ``Error`` body, e.g. 500 / code 100 "The requested service is not currently available…";
- ``latency_ms``: add that much delay, then answer normally (or with the status above);
- ``drop``: close the connection without answering;
- ``hold``: run the request normally, then park the answer until released (``emulator/holds.py``):
  the broker has acted but the client has not heard, e.g. ``{"match": "order_place", "hold": true}``.

A separate, global fault skews the clock the OAuth timestamp check uses
(``clock_skew_seconds``), to reproduce ``timestamp_refused`` against correctly signing clients.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from emulator import errors


@dataclass
class Fault:
    """One active fault."""

    id: int
    match: str
    status: int | None = None
    code: int | None = None
    message: str | None = None
    latency_ms: int = 0
    drop: bool = False
    hold: bool = False
    #: Requests still to act on; None acts until cleared.
    remaining: int | None = None
    hits: int = 0

    def matches(self, route: str, path: str) -> bool:
        """Route name equality, or a path-prefix match when ``match`` starts with ``/``."""
        return path.startswith(self.match) if self.match.startswith("/") else route == self.match

    def describe(self) -> dict[str, object]:
        """JSON view for the admin interface."""
        return asdict(self)


def _int(spec: Mapping[str, object], name: str, low: int, high: int | None = None) -> int | None:
    value = spec.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer >= {low}" + (f" and <= {high}" if high is not None else ""))
    return value


class FaultRegistry:
    """The active faults and the OAuth clock skew, behind a lock."""

    _FIELDS = frozenset({"match", "status", "code", "message", "latency_ms", "drop", "hold", "count"})

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._skew = 0.0

    def add(self, spec: Mapping[str, object]) -> dict[str, object]:
        """Validate and install a fault from its JSON spec; returns its description."""
        if "clock_skew_seconds" in spec:
            if set(spec) != {"clock_skew_seconds"}:
                raise ValueError("clock_skew_seconds is a fault of its own; send it alone")
            skew = spec["clock_skew_seconds"]
            if isinstance(skew, bool) or not isinstance(skew, int | float):
                raise ValueError("clock_skew_seconds must be a number")
            with self._lock:
                self._skew = float(skew)
            return {"clock_skew_seconds": float(skew)}
        unknown = set(spec) - self._FIELDS
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        match = spec.get("match")
        if not isinstance(match, str) or not match:
            raise ValueError("match must be a route name or a path prefix starting with /")
        status = _int(spec, "status", 100, 599)
        code = _int(spec, "code", 0)
        latency = _int(spec, "latency_ms", 0, 600_000) or 0
        count = _int(spec, "count", 1)
        drop = spec.get("drop", False)
        message = spec.get("message")
        hold = spec.get("hold", False)
        if not isinstance(drop, bool):
            raise ValueError("drop must be true or false")
        if not isinstance(hold, bool):
            raise ValueError("hold must be true or false")
        if hold and (drop or status is not None):
            raise ValueError("hold answers normally once released; it cannot be combined with drop or status")
        if message is not None and not isinstance(message, str):
            raise ValueError("message must be a string")
        if status is None and not drop and not latency and not hold:
            raise ValueError("a fault needs status, latency_ms, drop or hold")
        if status is not None and code is None and message is None and status >= 500:
            code, message = errors.SERVICE_UNAVAILABLE
        with self._lock:
            fault = Fault(next(self._ids), match, status, code, message, latency, drop, hold, count)
            self._faults.append(fault)
            return fault.describe()

    def take(self, route: str, path: str) -> Fault | None:
        """The first fault matching this request, consuming one of its uses."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(route, path):
                    fault.hits += 1
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    return fault
            return None

    def clear(self) -> None:
        """Remove every fault and the clock skew."""
        with self._lock:
            self._faults.clear()
            self._skew = 0.0

    def skew_seconds(self) -> float:
        """The injected OAuth clock skew, seconds (0 when none)."""
        with self._lock:
            return self._skew

    def describe(self) -> dict[str, object]:
        """JSON view: active faults and the skew."""
        with self._lock:
            return {"faults": [f.describe() for f in self._faults], "clock_skew_seconds": self._skew}
