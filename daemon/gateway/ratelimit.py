"""The daemon's E*TRADE rate limiter: a token bucket per API module plus an overall ceiling.

E*TRADE's only published limits are per consumer key and per module (Market 4 requests/s,
Accounts and Orders 2/s, also 14,000 and 7,000 per hour); a request over the limit is not
processed and answers HTTP 400 "Number of requests exceeded the rate limit set". Every proxy and
the CLI share one consumer key through this daemon, so one limiter here keeps all of them polite.

Each request takes a token from its module's bucket and from the overall bucket
(``ETRADE_REQUESTS_PER_MINUTE``). Tokens are *reserved*: when a bucket is empty the caller gets
the next free slot and sleeps until it, provided that fits in what it is willing to wait;
otherwise it is refused at once with :class:`~broker_client.errors.RateLimited` saying when to retry.
Reservation keeps callers in arrival order and never lets two of them share one slot.

When E*TRADE answers "rate limit exceeded" anyway (another program using the same consumer key,
limits lower than published), :meth:`RateLimiter.upstream_refused` halves that module's rate and
holds every caller of the module back for ``refusal_pause`` (1 s: E*TRADE's limits are per
second); the rate then recovers linearly to the configured one over ``recovery_seconds``. Defaults sit a little under E*TRADE's numbers so the hourly limits hold
too (3.5/s × 3,600 s = 12,600 < 14,000).

**Every bucket starts empty**, as if the daemon's predecessor had spent it the instant before this
one started, unless the predecessor is proven quiet (:meth:`RateLimiter.fill`, decided from a mark
in the state directory: ``daemon/gateway/sender_mark.py``). E*TRADE counts per consumer key, not per process: a daemon restarted by systemd, after
a crash or by ``etradectl service restart`` shares the key with the one that just exited, which may
have used the module's whole second. Starting full would send a second burst into that second.
Starting empty needs nothing written anywhere, so it also holds after SIGKILL or a power cut: in
its first ``t`` seconds a bucket grants at most ``rate × t`` requests (never more than ``burst``
at once), and an allowance that refills at E*TRADE's rate and holds one second's requests (as
emulator/limits.py models it) has refilled at least that much since the predecessor's last
request, whatever that request was — as long as ``rate`` and ``burst`` stay within E*TRADE's
numbers. The overall bucket starts empty too; a module's own slot is the longer wait. The cost is paid
only after a start that may follow a predecessor's requests, and only by requests in the first
``burst / rate`` seconds after it: the first request to a module
waits at most ``1 / rate`` seconds (0.29 s for market at 3.5/s, 0.56 s for accounts and orders at
1.8/s), once; a bucket left alone for ``burst / rate`` seconds is full, as before.

Pure asyncio, no gRPC; the time source is injectable so tests wait on a fake clock.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass

from broker_client.errors import ErrorCode, RateLimited
from daemon.gateway.deadline import REAL_TIME, TimeSource

OVERALL = "overall"
#: The fewest requests per second a slowed-down module is throttled to (its floor).
MIN_SLOWDOWN_FRACTION = 1 / 16


@dataclass(frozen=True, slots=True)
class ModuleRate:
    """A module's sustained rate (requests per second) and its burst (bucket capacity)."""

    per_second: float
    burst: float = 1.0

    def __post_init__(self) -> None:
        if not self.per_second > 0:
            raise ValueError("a rate must be a positive number of requests per second")
        if self.burst < 1:
            raise ValueError("a burst must allow at least one request")


@dataclass(frozen=True, slots=True)
class ModuleLimitStats:
    """Counters of one bucket, for status displays."""

    module: str
    rate_per_second: float
    current_rate_per_second: float
    burst: float
    granted: int
    waits: int
    waited_seconds: float
    rejections: int
    upstream_rate_limited: int


class _Bucket:
    """One token bucket with a rate that can be slowed down and recovers over time."""

    def __init__(self, name: str, rate: ModuleRate, now: float, recovery_seconds: float) -> None:
        self.name = name
        self.rate = rate
        self.recovery_seconds = recovery_seconds
        # Empty, not full: a predecessor sharing the consumer key may have just spent this second.
        self.tokens = 0.0
        self.stamp = now
        # Slow-down state: the fraction of the rate right after the last refusal, and when.
        self.slow_fraction = 1.0
        self.slowed_at = now
        self.granted = 0
        self.waits = 0
        self.waited_seconds = 0.0
        self.rejections = 0
        self.upstream_rate_limited = 0

    def fraction(self, now: float) -> float:
        if self.slow_fraction >= 1.0:
            return 1.0
        progress = (now - self.slowed_at) / self.recovery_seconds if self.recovery_seconds > 0 else 1.0
        fraction = self.slow_fraction + (1.0 - self.slow_fraction) * min(1.0, max(0.0, progress))
        if fraction >= 1.0:
            self.slow_fraction = 1.0
        return fraction

    def current_rate(self, now: float) -> float:
        return self.rate.per_second * self.fraction(now)

    def refill(self, now: float) -> None:
        elapsed = now - self.stamp
        if elapsed > 0:
            self.tokens = min(self.rate.burst, self.tokens + elapsed * self.current_rate(now))
            self.stamp = now

    def wait_for(self, now: float, count: float = 1.0) -> float:
        """Seconds until ``count`` more tokens than already reserved exist (0: available now)."""
        self.refill(now)
        missing = count - self.tokens
        # A hair of float error must not turn "available" into a microsecond sleep.
        return 0.0 if missing <= 1e-9 else missing / self.current_rate(now)

    def slow_down(self, now: float, pause: float) -> None:
        self.refill(now)
        self.slow_fraction = max(MIN_SLOWDOWN_FRACTION, self.fraction(now) / 2)
        self.slowed_at = now
        # Nobody sends for ``pause`` seconds: the next slot is that far away at the slower rate.
        self.tokens = min(self.tokens, 1.0 - pause * self.current_rate(now))
        self.upstream_rate_limited += 1

    def stats(self, now: float) -> ModuleLimitStats:
        return ModuleLimitStats(
            module=self.name,
            rate_per_second=self.rate.per_second,
            current_rate_per_second=round(self.current_rate(now), 4),
            burst=self.rate.burst,
            granted=self.granted,
            waits=self.waits,
            waited_seconds=round(self.waited_seconds, 3),
            rejections=self.rejections,
            upstream_rate_limited=self.upstream_rate_limited,
        )


class RateLimiter:
    """Per-module token buckets and an overall per-minute ceiling, shared by every caller."""

    def __init__(
        self,
        rates: Mapping[str, ModuleRate],
        *,
        requests_per_minute: int,
        recovery_seconds: float = 30.0,
        refusal_pause: float = 1.0,
        time_source: TimeSource = REAL_TIME,
    ) -> None:
        if requests_per_minute <= 0:
            raise ValueError("requests_per_minute must be positive")
        self._time = time_source
        self._refusal_pause = refusal_pause
        now = time_source.monotonic()
        per_second = requests_per_minute / 60.0
        # The overall ceiling allows at most one second's worth of requests at once.
        overall = ModuleRate(per_second, burst=max(1.0, min(per_second, float(requests_per_minute))))
        self._overall = _Bucket(OVERALL, overall, now, recovery_seconds)
        self._modules = {name: _Bucket(name, rate, now, recovery_seconds) for name, rate in rates.items()}

    @property
    def refill_seconds(self) -> float:
        """How long an empty allowance takes to be full again: the longest ``burst / rate``."""
        buckets = [self._overall, *self._modules.values()]
        return max(b.rate.burst / b.rate.per_second for b in buckets)

    def fill(self) -> None:
        """Start full: for a daemon whose predecessor is proven quiet (``daemon/gateway/sender_mark.py``)."""
        now = self._time.monotonic()
        for bucket in (self._overall, *self._modules.values()):
            bucket.tokens = bucket.rate.burst
            bucket.stamp = now

    def _buckets(self, module: str) -> list[_Bucket]:
        bucket = self._modules.get(module)
        return [bucket, self._overall] if bucket is not None else [self._overall]

    def _refusal(self, module: str, wait: float) -> RateLimited:
        shown = max(0.1, math.ceil(wait * 10) / 10)
        return RateLimited(
            ErrorCode.RATE_LIMITED,
            f"rate limited, retry in {shown:g} s (the daemon keeps E*TRADE's {module} request rate)",
            retry_after=shown,
        )

    def estimated_wait(self, module: str) -> float:
        """Seconds until a request to ``module`` would be allowed, were it asked now."""
        now = self._time.monotonic()
        return max(b.wait_for(now) for b in self._buckets(module))

    async def acquire(self, module: str, max_wait: float) -> None:
        """Take a slot for one request to ``module``, sleeping up to ``max_wait`` seconds for it.

        Raises :class:`RateLimited` (with ``retry_after``) at once when the slot is further away
        than ``max_wait``; nothing is reserved then.
        """
        now = self._time.monotonic()
        buckets = self._buckets(module)
        wait = max(b.wait_for(now) for b in buckets)
        if wait > max(0.0, max_wait):
            for b in buckets:
                b.rejections += 1
            raise self._refusal(module, wait)
        for b in buckets:
            b.tokens -= 1.0
            b.granted += 1
        if wait <= 0:
            return
        for b in buckets:
            b.waits += 1
            b.waited_seconds += wait
        try:
            await self._time.sleep(wait)
        except asyncio.CancelledError:
            for b in buckets:  # the caller gave up: give its slot to the next one
                b.tokens += 1.0
                b.granted -= 1
            raise

    async def wait_for_capacity(self, module: str, max_wait: float) -> None:
        """Sleep until ``module`` has a free slot, without taking it (a batcher then fills the
        request with everything that arrived meanwhile and calls :meth:`acquire`)."""
        wait = self.estimated_wait(module)
        if wait <= 0:
            return
        if wait > max(0.0, max_wait):
            for b in self._buckets(module):
                b.rejections += 1
            raise self._refusal(module, wait)
        await self._time.sleep(wait)

    def upstream_refused(self, module: str) -> None:
        """E*TRADE answered "rate limit exceeded": slow ``module`` down (it recovers over time)."""
        now = self._time.monotonic()
        bucket = self._modules.get(module)
        (bucket or self._overall).slow_down(now, self._refusal_pause)

    def stats(self) -> list[ModuleLimitStats]:
        """Every module's counters, then the overall ceiling's."""
        now = self._time.monotonic()
        return [b.stats(now) for b in (*self._modules.values(), self._overall)]
