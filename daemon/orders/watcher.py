"""The fill watcher: polls E*TRADE's order lists while orders are working, and stops when none are.

Fills are watched, not discovered when someone happens to look. What it does, and its bounds:

- **Only while the session is usable** (ACTIVE or INACTIVE, which the first request renews). Logged
  out, expired or revoked: it waits for the next login, which wakes it.
- **While orders are working** (OPEN, PARTIAL, CANCEL_REQUESTED, ... in the tracker's table), it
  lists the orders of the accounts that have them every ``fill_watch_interval_seconds`` (10 s by
  default): one List Orders request per such account, plus one Get Order request for a working
  order that has dropped out of the newest page (at most :data:`MAX_DETAIL_LOOKUPS` per round).
- **When nothing is working it stops polling.** It resumes at once when an order is placed through
  the daemon (or seen working in any client's listing), at a login, and otherwise after
  ``fill_watch_idle_check_seconds`` (5 minutes by default; 0 switches it off) for one round over
  every account, so orders placed outside this system (E*TRADE's web site or app) are noticed.
- **Within the Orders rate limit.** Every request goes through the daemon's gateway: the same
  limiter as every client's calls (E*TRADE's Orders module, and the overall per-minute ceiling).
  At most ``accounts / interval`` requests per second while watching, ``accounts / idle check``
  while idle; E*TRADE's 2 per second are never approached with the defaults.
- **Backoff on errors**: after a failed round the next waits twice as long (up to
  ``fill_watch_max_backoff_seconds``); a successful round resets it.

Status changes are published by :class:`~daemon.orders.tracker.OrderTracker` (exactly once, also
across restarts); the watcher only looks. No gRPC here.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from broker_client.errors import BrokerError, NotFound
from daemon.clock import ET, Clock
from daemon.gateway.deadline import REAL_TIME, TimeSource
from daemon.orders.model import Order
from daemon.orders.tracker import Known, OrderTracker

log = logging.getLogger(__name__)

#: Working orders looked up one by one per round when they fell out of the newest page of the listing.
MAX_DETAIL_LOOKUPS = 5


class WatchState(enum.StrEnum):
    STOPPED = "stopped"
    NO_SESSION = "waiting for a login"
    IDLE = "idle: no working orders"
    WATCHING = "watching working orders"
    BACKING_OFF = "backing off after an error"


@dataclass(frozen=True, slots=True)
class WatchConfig:
    interval_seconds: float = 10.0
    idle_check_seconds: float = 300.0
    max_backoff_seconds: float = 300.0
    lookback_days: int = 60


@dataclass(frozen=True, slots=True)
class WatchPort:
    """What the watcher needs from the rest of the daemon (so it can be tested on its own)."""

    #: Whether the E*TRADE session can serve requests now.
    session_usable: Callable[[], bool]
    #: The account_id_keys of the user's open accounts.
    account_keys: Callable[[], Awaitable[list[str]]]
    #: The newest orders of one account placed since the given date (one List Orders request).
    list_orders: Callable[[str, dict[str, str]], Awaitable[list[Order]]]
    #: One order (one Get Order request).
    get_order: Callable[[str, int], Awaitable[Order]]


class FillWatcher:
    """Start with :meth:`start` (inside the loop), stop with :meth:`close`."""

    def __init__(
        self,
        tracker: OrderTracker,
        port: WatchPort,
        clock: Clock,
        config: WatchConfig,
        *,
        time_source: TimeSource = REAL_TIME,
    ) -> None:
        self._tracker = tracker
        self._port = port
        self._clock = clock
        self._config = config
        self._time = time_source
        self._task: asyncio.Task[None] | None = None
        self._kick: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._full_round_due = True
        self._in_round = False
        self._last_full_round: float | None = None  # on the time source's monotonic clock
        self.state = WatchState.STOPPED
        self.rounds = 0
        self.failures = 0
        self.last_round_at: float | None = None
        self.last_error = ""
        self._state_changed: asyncio.Condition | None = None
        tracker.on_working(self._woken_by_order)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._kick = asyncio.Event()
        self._state_changed = asyncio.Condition()
        self._task = asyncio.create_task(self._run(), name="fill-watcher")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.state = WatchState.STOPPED

    def kick(self, *, everything: bool = False) -> None:
        """Look now (thread-safe). ``everything``: list every account, not only those with working orders."""
        if everything:
            self._full_round_due = True
        loop, kick = self._loop, self._kick
        if loop is None or kick is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            kick.set()
        else:
            loop.call_soon_threadsafe(kick.set)

    def _woken_by_order(self, order: Known) -> None:
        # During a round there is nothing to wake: its end sees the working order and keeps watching.
        if not self._in_round and self.state in (WatchState.IDLE, WatchState.NO_SESSION):
            self.kick()

    async def wait_for(self, predicate: Callable[[FillWatcher], bool], timeout: float) -> None:
        """Wait (bounded) until ``predicate(self)`` holds after a round; for tests and status."""
        assert self._state_changed is not None, "start() first"
        async with asyncio.timeout(timeout):
            async with self._state_changed:
                await self._state_changed.wait_for(lambda: predicate(self))

    async def _set_state(self, state: WatchState) -> None:
        self.state = state
        if self._state_changed is not None:
            async with self._state_changed:
                self._state_changed.notify_all()

    # -- the loop ----------------------------------------------------------------------------
    async def _run(self) -> None:
        backoff = 0.0
        while True:
            if not self._port.session_usable():
                await self._set_state(WatchState.NO_SESSION)
                self._full_round_due = True  # after a login, look at everything once
                await self._pause(None)
                continue
            self._in_round = True
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._in_round = False
                self.failures += 1
                self.last_error = exc.message if isinstance(exc, BrokerError) else f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, BrokerError):
                    log.exception("orders: the fill watcher's round failed")
                backoff = min(self._config.max_backoff_seconds, max(self._config.interval_seconds, 1.0, backoff * 2))
                log.info("orders: fill watcher backs off %.0f s: %s", backoff, self.last_error)
                await self._set_state(WatchState.BACKING_OFF)
                await self._pause(backoff)
                continue
            self._in_round = False
            backoff = 0.0
            if self._tracker.working():
                await self._set_state(WatchState.WATCHING)
                await self._pause(self._config.interval_seconds)
            else:
                await self._set_state(WatchState.IDLE)
                idle = self._config.idle_check_seconds
                if idle > 0:
                    if not await self._pause(idle):
                        self._full_round_due = True  # the slow check for orders placed outside
                else:
                    await self._pause(None)

    async def _pause(self, seconds: float | None) -> bool:
        """Wait ``seconds`` on the time source (None: until kicked), or less when kicked. True if kicked."""
        assert self._kick is not None
        if not self._kick.is_set():
            waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(self._kick.wait())]
            if seconds is not None:
                waiters.append(asyncio.ensure_future(self._time.sleep(seconds)))
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
                # gather, not a suppressed await: a cancellation of the watcher itself must get through.
                await asyncio.gather(*waiters, return_exceptions=True)
        kicked = self._kick.is_set()
        self._kick.clear()
        return kicked

    async def round(self) -> None:
        """One look: every account (after a login, an idle check or when asked), else only the accounts
        with working orders. Raises what the first failing request raised."""
        idle = self._config.idle_check_seconds
        # A long-lived working order must not keep the other accounts from ever being looked at.
        overdue = idle > 0 and (self._last_full_round is None or self._time.monotonic() - self._last_full_round >= idle)
        full = self._full_round_due or overdue or not self._tracker.working()
        if full:
            keys = await self._port.account_keys()
        else:
            keys = sorted({k.account_id_key for k in self._tracker.working()})
        since = datetime.fromtimestamp(self._clock.now(), ET).date() - timedelta(days=self._config.lookback_days)
        today = datetime.fromtimestamp(self._clock.now(), ET).date()
        params = {"fromDate": since.strftime("%m%d%Y"), "toDate": today.strftime("%m%d%Y"), "count": "100"}
        lookups = 0
        for key in keys:
            started = self._clock.now()
            listed = await self._port.list_orders(key, dict(params))  # observed by the tracker on the way
            self._tracker.watched(key, started)
            seen = {o.order_id for o in listed}
            for known in self._tracker.working():
                if known.account_id_key != key or known.order_id in seen or lookups >= MAX_DETAIL_LOOKUPS:
                    continue
                lookups += 1
                try:
                    await self._port.get_order(key, known.order_id)  # observed by the tracker too
                except NotFound:
                    # E*TRADE does not know it (any more): waiting for it would keep the watcher busy forever.
                    log.warning("orders: E*TRADE has no order %d any more; no longer watching it", known.order_id)
                    self._tracker.forget(known.order_id)
        if full:
            self._full_round_due = False
            self._last_full_round = self._time.monotonic()
        self.rounds += 1
        self.last_round_at = self._clock.now()


__all__ = ["MAX_DETAIL_LOOKUPS", "FillWatcher", "WatchConfig", "WatchPort", "WatchState"]
