"""The notification hub: follows the event bus and hands each notification to the channels that want it.

It runs one task on the event loop that only reads its subscription, renders and enqueues (never
blocking); every delivery happens on its channel's worker thread (:mod:`daemon.notifications.channels`).
The hub's subscription is in-process: a pending order's code is read from the pending store here and
never published on the bus, so no client's Subscribe stream can carry it.

"Order pending" notifications are capped per channel (:mod:`daemon.notifications.throttle`): a model
previewing in a loop reaches the human at most ``pending_limit`` times per ``pending_window`` seconds,
then once more with a summary of the rest. Every other event goes through uncapped. A timer task
tells the summary when a window ends; it re-reads the daemon's clock at least every
``recheck_seconds``, since that clock can jump (sleep and resume, a moved emulator clock).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from broker_client.errors import ErrorCode, InvalidRequest, NotFound
from daemon.clock import Clock
from daemon.events import EventBus, SubscriptionOverflow
from daemon.notifications.channels import (
    DEFAULT_QUEUE_SIZE,
    ChannelHealth,
    ChannelWorker,
    Job,
    SenderFactory,
    default_sender,
)
from daemon.notifications.messages import (
    KINDS,
    Notification,
    PendingLookup,
    pending_summary,
    render,
    sample_notification,
)
from daemon.notifications.throttle import Held, PendingCap
from daemon.secret_store import SecretStore
from daemon.settings import notifications as names
from daemon.settings.notifications import ChannelConfig, mask_url, signing_secret, url_secret

log = logging.getLogger(__name__)

#: How long ``notify test`` waits for a channel (a hanging one reports a timeout).
TEST_TIMEOUT_SECONDS = 30.0
#: Orders whose last told status the hub remembers, to tell each status once.
REMEMBERED_ORDERS = 1000
#: The longest the summary timer trusts a computed delay before reading the daemon's clock again.
RECHECK_SECONDS = 30.0


@dataclass(frozen=True)
class ChannelView:
    """A channel for display: no URL, only its mask."""

    config: ChannelConfig
    masked_url: str
    ready: bool
    health: ChannelHealth


class NotificationHub:
    """Construct with the configured channels, ``await start()`` inside the loop, ``await close()``."""

    def __init__(
        self,
        channels: Sequence[ChannelConfig],
        *,
        events: EventBus,
        store: SecretStore | None,
        clock: Clock,
        pending_lookup: PendingLookup,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        sender_factory: SenderFactory = default_sender,
        pending_limit: int = 5,
        pending_window: float = 600.0,
        recheck_seconds: float = RECHECK_SECONDS,
    ) -> None:
        self._events = events
        self._store = store
        self._clock = clock
        self._lookup = pending_lookup
        self._queue_size = queue_size
        self._factory = sender_factory
        self._configs = {c.name: c for c in channels}
        self._workers: dict[str, ChannelWorker] = {}
        self._task: asyncio.Task[None] | None = None
        self._caps = {name: PendingCap(pending_limit, pending_window) for name in self._configs}
        self._recheck = recheck_seconds
        self._holding = asyncio.Event()  # set when a cap holds orders: the timer has a summary to tell
        self._timer: asyncio.Task[None] | None = None
        # order id -> the last status told, oldest first
        self._told: OrderedDict[str, str] = OrderedDict()

    @property
    def channels(self) -> tuple[ChannelConfig, ...]:
        return tuple(self._configs.values())

    async def start(self) -> None:
        if not self._configs or self._task is not None:
            return  # no channel: no subscription, no thread
        for config in self._configs.values():
            self._workers[config.name] = ChannelWorker(
                config, store=self._store, clock=self._clock, queue_size=self._queue_size, sender_factory=self._factory
            )
        self._task = asyncio.create_task(self._follow(), name="notifications")
        self._timer = asyncio.create_task(self._summarise(), name="notification-summaries")
        await asyncio.sleep(0)  # subscribed before start() returns: no event published after it is missed

    async def close(self) -> None:
        for task in (self._task, self._timer):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._task = self._timer = None
        for worker in self._workers.values():
            worker.stop()

    async def _follow(self) -> None:
        while True:
            subscription = self._events.subscribe(KINDS)
            try:
                async with subscription:
                    async for event in subscription:
                        try:
                            notification = render(event, self._lookup)
                        except Exception:
                            # The event's kind only: its rendering may hold a code.
                            log.exception("notifications: could not render a %s event", event.kind.value)
                            continue
                        if notification is not None and not self._repeated(notification):
                            self.dispatch(notification)
                return  # the bus closed: the daemon is stopping
            except SubscriptionOverflow:
                log.warning("notifications: fell behind the event bus; some notifications were skipped")

    def _repeated(self, notification: Notification) -> bool:
        """The same status of the same order told twice (the daemon's own placement, then a watcher
        seeing the order open): the human hears it once."""
        order_id, status = notification.data.get("order_id"), notification.data.get("status")
        if not order_id or not status:
            return False
        if self._told.get(order_id) == status:
            return True
        self._told[order_id] = status
        self._told.move_to_end(order_id)
        while len(self._told) > REMEMBERED_ORDERS:
            self._told.popitem(last=False)
        return False

    def dispatch(self, notification: Notification) -> int:
        """Queue ``notification`` for every channel that wants it (pending orders within each channel's
        cap); how many took it. Never blocks."""
        pending_id = notification.data.get("pending_id", "") if notification.event == names.ORDER_PENDING else ""
        taken = 0
        for worker in self._workers.values():
            if not worker.config.wants(notification.event):
                continue
            if pending_id:
                cap = self._caps[worker.config.name]
                was_holding = cap.next_due() is not None
                send, summary = cap.admit(self._clock.now(), pending_id)
                if summary is not None:
                    self._tell_held(worker, summary)
                if not send:
                    if not was_holding:
                        log.warning(
                            "notifications: channel %s: more than %d pending orders within %.0f s; "
                            "the rest are told in one summary when the window ends",
                            worker.config.name,
                            cap.limit,
                            cap.window,
                        )
                    self._holding.set()
                    continue
            if worker.offer(Job(notification)):
                taken += 1
        return taken

    def _tell_held(self, worker: ChannelWorker, held: Held) -> None:
        worker.offer(Job(pending_summary(held, self._lookup)))

    def _tell_ended_windows(self) -> int:
        """Send the summary of every channel whose window has ended; how many were sent."""
        now = self._clock.now()
        told = 0
        for worker in self._workers.values():
            held = self._caps[worker.config.name].due(now)
            if held is not None:
                self._tell_held(worker, held)
                told += 1
        return told

    async def _summarise(self) -> None:
        while True:
            due = min((d for cap in self._caps.values() if (d := cap.next_due()) is not None), default=None)
            if due is None:
                self._holding.clear()  # no await since next_due(): nothing was held in between
                await self._holding.wait()
                continue
            await asyncio.sleep(min(self._recheck, max(0.0, due - self._clock.now())))
            try:
                self._tell_ended_windows()
            except Exception:
                log.exception("notifications: could not tell the held pending orders")

    def health(self) -> list[ChannelHealth]:
        return [worker.health() for worker in self._workers.values()]

    def _config(self, name: str) -> ChannelConfig:
        config = self._configs.get(name)
        if config is None:
            known = ", ".join(self._configs) or "none (add [[notifications.channels]] to config.toml)"
            raise NotFound(
                ErrorCode.CHANNEL_NOT_FOUND, f"there is no notification channel {name[:40]!r}; configured: {known}"
            )
        return config

    async def view(self) -> list[ChannelView]:
        """Every channel with its masked URL and health (reads the secret store off the loop)."""

        def read() -> list[ChannelView]:
            views = []
            for config in self._configs.values():
                url = self._store.get(url_secret(config.name)) if self._store is not None else None
                ready = bool(url)
                if ready and config.type == "webhook" and self._store is not None:
                    ready = bool(self._store.get(signing_secret(config.name)))
                worker = self._workers.get(config.name)
                health = worker.health() if worker is not None else ChannelHealth(config.name)
                views.append(ChannelView(config, mask_url(url), ready, health))
            return views

        return await asyncio.to_thread(read)

    async def store_secret(self, name: str, url: str, secret: str = "") -> str:
        """Put a channel's URL (and a webhook's signing secret) in the secret store; the masked URL."""
        config = self._config(name)
        url = url.strip()
        if not url or "://" not in url:
            raise InvalidRequest(
                ErrorCode.INVALID_ARGUMENT,
                "expected a URL such as ntfy://topic or https://host/path",
                hint="see the Notifications section of the README for URL examples",
            )
        if config.type == "webhook":
            if not url.lower().startswith(("https://", "http://")):
                raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, "a webhook channel's URL must be http:// or https://")
            if len(secret) < 16:
                raise InvalidRequest(
                    ErrorCode.INVALID_ARGUMENT,
                    "a webhook channel needs a signing secret of at least 16 characters",
                    hint="generate one with: python3 -c 'import secrets; print(secrets.token_hex(32))'",
                )
        elif not await asyncio.to_thread(_apprise_understands, url):  # off the loop: apprise loads its plugins
            raise InvalidRequest(
                ErrorCode.INVALID_ARGUMENT,
                "apprise does not recognise this URL",
                hint="check its scheme and form against apprise's list of services (ntfy://, pover://, json://, ...)",
            )
        store = self._store
        if store is None:
            raise InvalidRequest(ErrorCode.SECRET_STORE_UNAVAILABLE, "the daemon has no usable secret store")

        def write() -> None:
            store.set(url_secret(name), url)
            if config.type == "webhook":
                store.set(signing_secret(name), secret)

        await asyncio.to_thread(write)
        worker = self._workers.get(name)
        if worker is not None:
            worker.forget_sender()
        log.info("notifications: stored the URL of channel %s", name)
        return mask_url(url)

    async def test(self, name: str = "") -> list[tuple[str, str | None]]:
        """Send a test notification to one channel (or all); (name, None or the error class) each."""
        names = [self._config(name).name] if name else list(self._configs)
        futures: list[tuple[str, concurrent.futures.Future[str | None]]] = []
        for channel in names:
            future: concurrent.futures.Future[str | None] = concurrent.futures.Future()
            worker = self._workers.get(channel)
            if worker is None:
                future.set_result("not_started")
            else:
                worker.offer(Job(sample_notification(), future))
            futures.append((channel, future))
        results: list[tuple[str, str | None]] = []
        for channel, future in futures:
            try:
                error = await asyncio.wait_for(asyncio.wrap_future(future), TEST_TIMEOUT_SECONDS)
            except TimeoutError:
                error = "timeout"
            results.append((channel, error))
        return results


def _apprise_understands(url: str) -> bool:
    import apprise

    from daemon.notifications.channels import quiet_apprise

    quiet_apprise()
    return apprise.Apprise.instantiate(url) is not None
