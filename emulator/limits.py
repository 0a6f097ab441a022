"""Per-consumer, per-module rate limits, and the per-response latency.

E*TRADE's only published limits are v0's, per consumer key and per module: Accounts 2/s,
Market 4/s, Orders 2/s; a request over the limit is not processed and gets HTTP 400 with an
HTML page "Number of requests exceeded the rate limit set". A multi-symbol quote counts once.

Each (consumer key, module) has a token bucket holding up to ``limit`` requests, refilled at
``limit`` per second of **real monotonic** time (throttling is about real traffic, not about
the emulator clock). Refused requests don't consume tokens.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType

#: E*TRADE's documented (v0) limits, requests per second per consumer key.
DEFAULT_RATE_LIMITS: Mapping[str, float] = MappingProxyType({"market": 4.0, "accounts": 2.0, "orders": 2.0})

RATE_LIMIT_PAGE = """<html><head><title>Error 400</title></head>
<body><h1>HTTP Status 400</h1><p>Number of requests exceeded the rate limit set</p></body></html>
"""


def validate_limits(limits: Mapping[str, float] | None) -> dict[str, float] | None:
    """Check a module -> requests/second mapping (None switches limiting off)."""
    if limits is None:
        return None
    checked: dict[str, float] = {}
    for module, rate in limits.items():
        if not isinstance(module, str) or isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0:
            raise ValueError(f"rate limit for {module!r} must be a positive number of requests per second")
        checked[module] = float(rate)
    return checked


class RateLimiter:
    """Token buckets keyed by (consumer key, module)."""

    def __init__(
        self,
        limits: Mapping[str, float] | None = DEFAULT_RATE_LIMITS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._limits = validate_limits(limits)
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    @property
    def limits(self) -> dict[str, float] | None:
        """The current limits (a copy), or None when limiting is off."""
        with self._lock:
            return dict(self._limits) if self._limits is not None else None

    def configure(self, limits: Mapping[str, float] | None) -> None:
        """Replace the limits; every bucket starts full again."""
        checked = validate_limits(limits)
        with self._lock:
            self._limits = checked
            self._buckets.clear()

    def allow(self, consumer_key: str, module: str) -> bool:
        """Take one request from the bucket; False if it is empty (the request is refused)."""
        with self._lock:
            if self._limits is None or module not in self._limits:
                return True
            rate = self._limits[module]
            capacity = max(1.0, rate)
            now = self._monotonic()
            tokens, stamp = self._buckets.get((consumer_key, module), (capacity, now))
            tokens = min(capacity, tokens + (now - stamp) * rate)
            if tokens < 1.0:
                self._buckets[(consumer_key, module)] = (tokens, now)
                return False
            self._buckets[(consumer_key, module)] = (tokens - 1.0, now)
            return True


def parse_latency(value: object) -> tuple[int, int]:
    """``80``, ``[80, 150]``, ``"80-150"`` or ``"0"`` as a (low, high) range in milliseconds."""
    if isinstance(value, bool):
        raise ValueError("latency must be milliseconds: N, [lo, hi] or 'lo-hi'")
    if isinstance(value, int):
        low = high = value
    elif isinstance(value, str):
        parts = value.split("-")
        if len(parts) not in (1, 2) or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"latency must look like 80-150 or 0, not {value!r}")
        low, high = int(parts[0]), int(parts[-1])
    elif isinstance(value, list | tuple) and len(value) == 2 and all(type(v) is int for v in value):
        low, high = int(value[0]), int(value[1])
    else:
        raise ValueError("latency must be milliseconds: N, [lo, hi] or 'lo-hi'")
    if low < 0 or high < low:
        raise ValueError("latency range must satisfy 0 <= low <= high")
    return low, high


class Latency:
    """A uniform per-response delay range, changeable at run time."""

    def __init__(self, latency_ms: tuple[int, int], seed: int) -> None:
        self._lock = threading.Lock()
        self._range = parse_latency(latency_ms)
        # Its own generator: drawing delays must not disturb the seeded market or book.
        self._rng = random.Random(f"etrade-emulator:{seed}:latency")

    @property
    def range_ms(self) -> tuple[int, int]:
        """The current (low, high) in milliseconds."""
        with self._lock:
            return self._range

    def configure(self, latency_ms: object) -> None:
        """Set a new range (see :func:`parse_latency` for accepted forms)."""
        parsed = parse_latency(latency_ms)
        with self._lock:
            self._range = parsed

    def draw_seconds(self) -> float:
        """One delay, in seconds."""
        with self._lock:
            low, high = self._range
            return self._rng.uniform(low, high) / 1000.0 if high else 0.0
