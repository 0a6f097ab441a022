"""A small asyncio cache with a TTL, single-flight loading and explicit invalidation.

Used for the accounts list, balances and portfolios: data that many clients read, that changes
slowly, and that the daemon's own order activity makes stale (hence :meth:`TtlCache.invalidate`).
Entries are kept for ``ttl`` seconds on the daemon's clock. Concurrent readers of a missing key
share one load. A load that was under way during an invalidation still answers the callers that
were waiting for it but is not stored (whatever its key: invalidations are rare, staleness is
not acceptable), and later readers of an invalidated key start a fresh load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from daemon.clock import Clock

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counters of one cache since start-up."""

    name: str
    hits: int
    misses: int
    coalesced: int
    upstream_calls: int
    entries: int
    ttl_seconds: float
    invalidations: int


class TtlCache(Generic[K, V]):
    """Values by key for ``ttl`` seconds; ``ttl`` 0 disables keeping (loads are still shared)."""

    def __init__(self, name: str, clock: Clock, ttl: float, *, max_entries: int = 256) -> None:
        self.name = name
        self.ttl = ttl
        self._clock = clock
        self._max_entries = max_entries
        self._values: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, tuple[int, asyncio.Task[V]]] = {}
        self._generation = 0
        self._hits = 0
        self._misses = 0
        self._coalesced = 0
        self._loads = 0
        self._invalidations = 0

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value for ``key``, or the result of ``load()`` (shared with concurrent callers)."""
        now = self._clock.now()
        cached = self._values.get(key)
        if cached is not None and 0 <= now - cached[0] < self.ttl:
            self._hits += 1
            return cached[1]
        under_way = self._loading.get(key)
        if under_way is not None:
            self._coalesced += 1
            return await asyncio.shield(under_way[1])
        self._misses += 1
        self._loads += 1
        task = asyncio.ensure_future(self._load(key, load, self._generation))
        # Callers may all give up (deadline); reading the outcome here keeps a failure of the load
        # from being logged as "never retrieved" when it was already reported or nobody waits.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._loading[key] = (self._generation, task)
        return await asyncio.shield(task)

    async def _load(self, key: K, load: Callable[[], Awaitable[V]], generation: int) -> V:
        try:
            value = await load()
        finally:
            current = self._loading.get(key)
            if current is not None and current[0] == generation:
                del self._loading[key]
        if generation == self._generation and self.ttl > 0:
            self._values[key] = (self._clock.now(), value)
            if len(self._values) > self._max_entries:
                oldest = min(self._values, key=lambda k: self._values[k][0])
                del self._values[oldest]
        return value

    def invalidate(self, match: Callable[[K], bool] | None = None) -> int:
        """Forget the entries whose key matches (all when ``match`` is None); returns how many.

        Loads under way for a matching key are not stored when they finish.
        """
        self._generation += 1
        self._invalidations += 1
        keys = [k for k in self._values if match is None or match(k)]
        for k in keys:
            del self._values[k]
        for k in [k for k in self._loading if match is None or match(k)]:
            del self._loading[k]
        return len(keys)

    def stats(self) -> CacheStats:
        return CacheStats(
            name=self.name,
            hits=self._hits,
            misses=self._misses,
            coalesced=self._coalesced,
            upstream_calls=self._loads,
            entries=len(self._values),
            ttl_seconds=self.ttl,
            invalidations=self._invalidations,
        )
