"""One worker thread per channel, its bounded queue, its senders and its delivery health.

A channel's deliveries run on its own thread, one at a time, in order: a hanging service delays only
its own later notifications, and once its queue is full new ones for it are dropped and counted
(:attr:`ChannelHealth.dropped`). Nothing here runs on the event loop except :meth:`ChannelWorker.offer`,
which never blocks.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from daemon.clock import Clock
from daemon.notifications.messages import Notification
from daemon.notifications.webhook import DeliveryError, WebhookSender
from daemon.secret_store import SecretStore
from daemon.settings.notifications import ChannelConfig, signing_secret, url_secret

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 100


class Sender(Protocol):
    def send(self, event: str, title: str, body: str, data: dict[str, str]) -> None: ...

    def close(self) -> None: ...


THREAD_PREFIX = "notify-"
#: The HTTP libraries under apprise and the webhook log request lines (a channel URL's path, e.g. an
#: ntfy topic or a webhook token) at DEBUG.
_HTTP_LOGGERS = ("urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry", "requests")


#: True inside a channel's delivery, including the helper threads apprise runs it on (apprise submits
#: its work with a copy of the caller's context).
_delivering: contextvars.ContextVar[bool] = contextvars.ContextVar("notify_delivering", default=False)


def _not_from_a_channel(record: logging.LogRecord) -> bool:
    return not (_delivering.get() or (record.threadName or "").startswith(THREAD_PREFIX))


def hide_channel_traffic() -> None:
    """Drop the HTTP libraries' records made on a channel's thread, whatever the daemon's log level."""
    for name in _HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _not_from_a_channel not in logger.filters:
            logger.addFilter(_not_from_a_channel)


def quiet_apprise() -> None:
    """Apprise logs the services it talks to (hosts, sometimes paths with tokens): keep it silent.
    Failures are recorded here as error classes instead."""
    apprise_log = logging.getLogger("apprise")
    apprise_log.setLevel(logging.CRITICAL + 1)
    apprise_log.propagate = False


class AppriseSender:
    """Any service apprise speaks (ntfy, Pushover, Telegram, email, json://, form://, ...)."""

    def __init__(self, url: str) -> None:
        import apprise

        quiet_apprise()
        # Sequential and without apprise's own deadline: sent on this channel's thread, not on
        # apprise's process-wide thread pool, where a hanging service would hold threads that every
        # channel needs. The service's socket timeouts (apprise's cto/rto URL options) still bound it.
        try:
            asset = apprise.AppriseAsset(async_mode=False, service_timeout=0)
        except TypeError:  # an apprise without service deadlines sends on the calling thread anyway
            asset = apprise.AppriseAsset(async_mode=False)
        self._apprise = apprise.Apprise(asset=asset)
        if not self._apprise.add(url):
            raise DeliveryError("invalid_url")

    def send(self, event: str, title: str, body: str, data: dict[str, str]) -> None:
        if not self._apprise.notify(title=title, body=body):
            raise DeliveryError("rejected")

    def close(self) -> None:
        self._apprise.clear()


@dataclass
class ChannelHealth:
    """Delivery figures of one channel; never its URL. Guarded by the worker's lock."""

    name: str
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    last_error: str = ""
    last_error_at: float = 0.0
    last_success_at: float = 0.0
    queued: int = 0


@dataclass
class Job:
    notification: Notification
    #: Set for ``notify test``: the caller waits for the result (None, or the error class).
    result: concurrent.futures.Future[str | None] | None = field(default=None)


SenderFactory = Callable[[ChannelConfig, SecretStore | None, threading.Event], Sender]


def default_sender(config: ChannelConfig, store: SecretStore | None, stop: threading.Event) -> Sender:
    """The sender for ``config`` from its secrets; DeliveryError when they are missing."""
    if store is None:
        raise DeliveryError("no_secret_store")
    url = store.get(url_secret(config.name))
    if not url:
        raise DeliveryError("no_url")
    if config.type == "webhook":
        secret = store.get(signing_secret(config.name))
        if not secret:
            raise DeliveryError("no_signing_secret")
        return WebhookSender(url, secret, stop=stop)
    return AppriseSender(url)


_STOP = object()


class ChannelWorker:
    """Delivers one channel's notifications on its own daemon thread."""

    def __init__(
        self,
        config: ChannelConfig,
        *,
        store: SecretStore | None,
        clock: Clock,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        sender_factory: SenderFactory = default_sender,
    ) -> None:
        self.config = config
        self._store = store
        self._clock = clock
        self._factory = sender_factory
        self._queue: queue.Queue[Job | object] = queue.Queue(queue_size)
        self._lock = threading.Lock()
        self._health = ChannelHealth(config.name)
        self._sender: Sender | None = None
        self._stop = threading.Event()
        # A daemon thread: a channel stuck in a request must never keep the daemon from exiting.
        hide_channel_traffic()
        self._thread = threading.Thread(target=self._run, name=f"{THREAD_PREFIX}{config.name}", daemon=True)
        self._thread.start()

    def offer(self, job: Job) -> bool:
        """Queue ``job`` without blocking; False (and counted as dropped) when the queue is full."""
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            with self._lock:
                self._health.dropped += 1
            log.warning("notifications: channel %s is not keeping up; a notification was dropped", self.config.name)
            if job.result is not None:
                job.result.set_result("queue_full")
            return False
        return True

    def forget_sender(self) -> None:
        """The channel's secrets changed: build the sender afresh for the next delivery."""
        with self._lock:
            self._sender = None

    def health(self) -> ChannelHealth:
        with self._lock:
            snapshot = ChannelHealth(**vars(self._health))
        snapshot.queued = self._queue.qsize()
        return snapshot

    def stop(self) -> None:
        """Ask the thread to finish (it may be inside a request; it is not waited for)."""
        self._stop.set()
        # When the queue is full, the thread sees the stop flag after its current delivery.
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_STOP)

    def _run(self) -> None:
        _delivering.set(True)
        while not self._stop.is_set():
            job = self._queue.get()
            if job is _STOP or not isinstance(job, Job):
                break
            error = self._deliver(job.notification)
            if job.result is not None and not job.result.done():
                job.result.set_result(error)
        with self._lock:
            sender, self._sender = self._sender, None
        if sender is not None:
            sender.close()

    def _deliver(self, notification: Notification) -> str | None:
        title, body, data = notification.text_for(self.config.trusted_for_codes)
        try:
            with self._lock:
                sender = self._sender
            if sender is None:
                sender = self._factory(self.config, self._store, self._stop)
                with self._lock:
                    self._sender = sender
            sender.send(notification.event, title, body, data)
        except Exception as exc:
            error = str(exc) if isinstance(exc, DeliveryError) else type(exc).__name__
            with self._lock:
                self._health.failed += 1
                self._health.last_error = error
                self._health.last_error_at = self._clock.now()
                if error == "invalid_url":
                    self._sender = None
            # The channel's name and the error class only: never the URL, the text or a code.
            log.warning(
                "notifications: channel %s failed to deliver %s (%s)", self.config.name, notification.event, error
            )
            return error
        with self._lock:
            self._health.delivered += 1
            self._health.last_success_at = self._clock.now()
        log.debug("notifications: channel %s delivered %s", self.config.name, notification.event)
        return None
