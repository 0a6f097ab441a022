"""The daemon's quote cache: fresh quotes from memory, one upstream call for many callers.

Every proxy and the CLI ask this one cache, so it is where E*TRADE calls are saved:

- **Freshness.** An answer (a quote, or "E*TRADE does not know this symbol") is kept per
  (symbol, detail flag) for a TTL: a few seconds while the regular session is open, longer when
  the market is closed (:class:`QuoteTtl`, on the daemon's clock). Cached quotes keep the
  ``fetched_at_unix_ms`` of their fetch, so every answer says how old it is.
- **Single flight.** A symbol already being fetched is never fetched twice: later callers wait
  for the call under way (``coalesced`` in the statistics).
- **Batching.** Misses go to a per-detail-flag queue. A batcher waits while misses keep arriving
  (until ``gather`` passes without a new one, a few milliseconds), reserves a rate-limit slot
  (misses keep queuing while it waits), then sends everything queued in calls of up to
  ``batch_size`` symbols (25, or 50 with E*TRADE's ``overrideSymbolCount``). Answers are per
  symbol: one unknown symbol fails alone.
- **Refresh ahead.** A call with room left also carries symbols that callers asked for recently
  and whose quotes are at least half-way through their TTL. E*TRADE counts a multi-symbol quote
  as one request, so this costs no extra request, and a working set of up to 50 symbols ends up
  refreshed by one call per TTL instead of one call per symbol as each expires.

A caller waits only until its deadline; the batch goes on for the others. Failures of a whole
call (session, E*TRADE down, rate limited) go to every caller of that batch and are not cached.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from broker_client.errors import BrokerError, ErrorCode, RateLimited, UpstreamError
from broker_client.symbols import SymbolError
from daemon.clock import Clock
from daemon.gateway.deadline import REAL_TIME, Deadline, TimeSource
from daemon.market.market_hours import in_regular_session
from daemon.models import Quote

log = logging.getLogger(__name__)

Answer = Quote | SymbolError
#: Fetch quotes for up to ``batch_size`` symbols in one upstream call (a rate-limit slot is held).
Fetch = Callable[[list[str], str, Deadline], Awaitable[tuple[list[Quote], list[SymbolError]]]]
#: Reserve one rate-limit slot for the next call, waiting at most until the deadline.
Reserve = Callable[[Deadline], Awaitable[None]]

#: Most quiet periods a batch waits for more misses (so at most GATHER_LIMIT x gather seconds).
GATHER_LIMIT = 8
#: A quote at least this far through its TTL rides along in a call made for other symbols.
REFRESH_AHEAD_FRACTION = 0.5
#: A symbol counts as "in use" (worth refreshing ahead) if asked for within this many TTLs.
HOT_TTLS = 2.0
HOT_MIN_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class QuoteTtl:
    """How long a quote stays fresh: in the regular session, and outside it."""

    market_open: float
    market_closed: float

    def at(self, epoch_seconds: float) -> float:
        return self.market_open if in_regular_session(epoch_seconds) else self.market_closed


@dataclass(frozen=True, slots=True)
class QuoteCacheStats:
    """Counters since start-up; ``ttl_seconds`` is the TTL in force now."""

    hits: int
    misses: int
    coalesced: int
    upstream_calls: int
    symbols_fetched: int
    refreshed_ahead: int
    entries: int
    ttl_seconds: float


@dataclass(slots=True)
class _Entry:
    answer: Answer
    fetched_at: float  # daemon clock, seconds
    requested_at: float  # the last time a caller asked for it


@dataclass(slots=True)
class _Queued:
    future: asyncio.Future[Answer]
    deadline: Deadline


def _mark_retrieved(future: asyncio.Future[Answer]) -> None:
    # A caller that gave up never reads its future; reading here keeps asyncio from logging
    # "exception was never retrieved" for a failure that was already reported to the others.
    if not future.cancelled():
        future.exception()


class QuoteCache:
    """Quotes by (symbol, detail flag): cached, coalesced and batched. Not thread-safe (asyncio)."""

    def __init__(
        self,
        fetch: Fetch,
        reserve: Reserve,
        estimated_wait: Callable[[], float],
        clock: Clock,
        ttl: QuoteTtl,
        *,
        batch_size: int,
        gather_seconds: float = 0.003,
        refresh_ahead: bool = True,
        max_entries: int = 5000,
        time_source: TimeSource = REAL_TIME,
    ) -> None:
        if not 1 <= batch_size <= 50:
            raise ValueError("batch_size must be 1-50 (E*TRADE's limit with overrideSymbolCount)")
        self._fetch = fetch
        self._reserve = reserve
        self._estimated_wait = estimated_wait
        self._clock = clock
        self.ttl = ttl
        self.batch_size = batch_size
        self._gather = gather_seconds
        self._time = time_source
        self._refresh_ahead = refresh_ahead
        self._max_entries = max_entries
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._inflight: dict[tuple[str, str], asyncio.Future[Answer]] = {}
        self._queues: dict[str, dict[str, _Queued]] = {}
        self._batchers: dict[str, asyncio.Task[None]] = {}
        self._calls: set[asyncio.Task[None]] = set()
        self._hits = 0
        self._misses = 0
        self._coalesced = 0
        self._upstream_calls = 0
        self._symbols_fetched = 0
        self._refreshed_ahead = 0

    # reading -----------------------------------------------------------------------------

    async def get(
        self, symbols: Sequence[str], detail: str, deadline: Deadline
    ) -> tuple[list[Quote], list[SymbolError]]:
        """Answers for ``symbols`` (normalized, distinct) in their order: quotes, then errors."""
        now = self._clock.now()
        ttl = self.ttl.at(now)
        answers: dict[str, Answer] = {}
        waiting: list[tuple[str, asyncio.Future[Answer]]] = []
        queued_new = False
        for symbol in symbols:
            key = (symbol, detail)
            entry = self._entries.get(key)
            if entry is not None:
                entry.requested_at = now
                if 0 <= now - entry.fetched_at < ttl:
                    self._hits += 1
                    answers[symbol] = entry.answer
                    continue
            future = self._inflight.get(key)
            if future is not None:
                self._coalesced += 1
                queued = self._queues.get(detail, {}).get(symbol)
                if queued is not None:  # not sent yet: the batch may now wait longer for a slot
                    queued.deadline = queued.deadline.later(deadline)
                waiting.append((symbol, future))
                continue
            self._misses += 1
            future = asyncio.get_running_loop().create_future()
            future.add_done_callback(_mark_retrieved)
            self._inflight[key] = future
            self._queues.setdefault(detail, {})[symbol] = _Queued(future, deadline)
            waiting.append((symbol, future))
            queued_new = True
        if queued_new and detail not in self._batchers:
            self._batchers[detail] = asyncio.create_task(self._batcher(detail), name=f"quote-batcher-{detail}")
        if waiting:
            await self._wait(waiting, detail, deadline, answers)
        quotes = [a for s in symbols if isinstance(a := answers[s], Quote)]
        errors = [a for s in symbols if isinstance(a := answers[s], SymbolError)]
        return quotes, errors

    async def _wait(
        self,
        waiting: list[tuple[str, asyncio.Future[Answer]]],
        detail: str,
        deadline: Deadline,
        answers: dict[str, Answer],
    ) -> None:
        futures = {future for _, future in waiting}
        _, late = await asyncio.wait(futures, timeout=deadline.remaining())
        if late:
            queue = self._queues.get(detail, {})
            if any(queue.get(symbol) is not None and future in late for symbol, future in waiting):
                wait = max(0.1, self._estimated_wait())
                raise RateLimited(
                    ErrorCode.RATE_LIMITED,
                    f"rate limited, retry in {wait:.1f} s (quotes wait for E*TRADE's market request rate)",
                    retry_after=round(wait, 1),
                )
            raise UpstreamError(ErrorCode.UPSTREAM_TIMEOUT, "E*TRADE did not answer the quote request in time")
        for symbol, future in waiting:
            answers[symbol] = future.result()  # raises the batch's failure, if any

    # fetching ----------------------------------------------------------------------------

    async def _batcher(self, detail: str) -> None:
        """Send everything queued for ``detail``, one rate-limit slot per call."""
        queue = self._queues.setdefault(detail, {})
        try:
            await self._gather_misses(queue)
            while queue:
                deadline = _latest(q.deadline for q in queue.values())
                try:
                    await self._reserve(deadline)  # misses keep queuing while this waits
                except BrokerError as exc:
                    self._fail(detail, dict(queue), exc)
                    queue.clear()
                    break
                batch = {symbol: queue.pop(symbol) for symbol in list(queue)[: self.batch_size]}
                self._add_refresh_ahead(detail, batch, deadline)
                call = asyncio.create_task(self._call(detail, batch), name=f"quote-call-{detail}")
                self._calls.add(call)
                call.add_done_callback(self._calls.discard)
        finally:
            self._batchers.pop(detail, None)

    async def _gather_misses(self, queue: dict[str, _Queued]) -> None:
        """Wait while misses keep arriving: until ``gather`` seconds pass without a new one, or
        ``GATHER_LIMIT`` gatherings in all. Clients asking together (one proxy each) reach the
        daemon a few milliseconds apart; this lets them share one upstream request, while a lone
        miss waits only ``gather``."""
        rounds = 0
        while True:
            seen = len(queue)
            await (self._time.sleep(self._gather) if self._gather > 0 else asyncio.sleep(0))
            rounds += 1
            if len(queue) == seen or rounds >= GATHER_LIMIT or self._gather <= 0:
                return

    def _add_refresh_ahead(self, detail: str, batch: dict[str, _Queued], deadline: Deadline) -> None:
        room = self.batch_size - len(batch)
        if not self._refresh_ahead or room <= 0:
            return
        now = self._clock.now()
        ttl = self.ttl.at(now)
        in_use_since = now - max(HOT_MIN_SECONDS, HOT_TTLS * ttl)
        candidates = [
            (entry.requested_at, symbol)
            for (symbol, flag), entry in self._entries.items()
            if flag == detail
            and isinstance(entry.answer, Quote)
            and entry.requested_at >= in_use_since
            and now - entry.fetched_at >= REFRESH_AHEAD_FRACTION * ttl
            and (symbol, flag) not in self._inflight
        ]
        candidates.sort(reverse=True)
        loop = asyncio.get_running_loop()
        for _, symbol in candidates[:room]:
            future: asyncio.Future[Answer] = loop.create_future()
            future.add_done_callback(_mark_retrieved)
            self._inflight[(symbol, detail)] = future
            batch[symbol] = _Queued(future, deadline)
            self._refreshed_ahead += 1

    async def _call(self, detail: str, batch: dict[str, _Queued]) -> None:
        symbols = list(batch)
        self._upstream_calls += 1
        self._symbols_fetched += len(symbols)
        deadline = _latest(q.deadline for q in batch.values())
        try:
            found, missing = await self._fetch(symbols, detail, deadline)
        except BaseException as exc:
            self._fail(detail, batch, exc)
            if not isinstance(exc, Exception):
                raise
            return
        now = self._clock.now()
        answers: dict[str, Answer] = {q.symbol: q for q in found}
        for error in missing:
            answers.setdefault(error.symbol, error)
        for symbol, queued in batch.items():
            answer = answers.get(symbol) or SymbolError(
                symbol, ErrorCode.INVALID_SYMBOL.value, f"E*TRADE has no quote for {symbol}"
            )
            previous = self._entries.get((symbol, detail))
            self._entries[(symbol, detail)] = _Entry(answer, now, previous.requested_at if previous else now)
            self._inflight.pop((symbol, detail), None)
            if not queued.future.done():
                queued.future.set_result(answer)
        if len(self._entries) > self._max_entries:
            self._evict()

    def _fail(self, detail: str, batch: dict[str, _Queued], exc: BaseException) -> None:
        for symbol, queued in batch.items():
            self._inflight.pop((symbol, detail), None)
            if not queued.future.done():
                if isinstance(exc, Exception):
                    queued.future.set_exception(exc)
                else:
                    queued.future.cancel()

    def _evict(self) -> None:
        """Forget the least recently requested tenth of the entries."""
        ordered = sorted(self._entries.items(), key=lambda item: item[1].requested_at)
        for key, _ in ordered[: max(1, len(ordered) // 10)]:
            del self._entries[key]

    def clear(self) -> None:
        """Forget every cached answer (a new login). Fetches under way still answer their callers."""
        self._entries.clear()

    # status ------------------------------------------------------------------------------

    def stats(self) -> QuoteCacheStats:
        return QuoteCacheStats(
            hits=self._hits,
            misses=self._misses,
            coalesced=self._coalesced,
            upstream_calls=self._upstream_calls,
            symbols_fetched=self._symbols_fetched,
            refreshed_ahead=self._refreshed_ahead,
            entries=len(self._entries),
            ttl_seconds=self.ttl.at(self._clock.now()),
        )

    async def close(self) -> None:
        """Cancel the batchers and calls under way (daemon shutdown)."""
        tasks = [*self._batchers.values(), *self._calls]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _latest(deadlines: Iterable[Deadline]) -> Deadline:
    result: Deadline | None = None
    for deadline in deadlines:
        result = deadline if result is None else result.later(deadline)
    assert result is not None
    return result
