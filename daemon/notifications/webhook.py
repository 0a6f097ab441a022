"""The signed generic webhook: a JSON POST whose receiver can prove it came from this daemon.

Apprise's ``json://`` channel cannot sign a request, so this one is a plain POST through ``requests``
(already a dependency). Each request carries:

- ``X-Etrade-Mcp-Timestamp``: unix seconds (the computer's clock: the receiver compares it with its own);
- ``X-Etrade-Mcp-Signature``: ``sha256=`` + hex HMAC-SHA256, keyed with the shared signing secret,
  over the bytes ``<timestamp>.<body>``;
- ``X-Etrade-Mcp-Event`` and ``X-Etrade-Mcp-Delivery`` (a unique id, the same on every retry, so a
  receiver can drop duplicates).

A receiver verifies with :func:`verify` (docs/notifications.md has a copy to paste): recompute the
HMAC, compare in constant time, and refuse timestamps more than five minutes off, so a captured
request cannot be replayed later. Failed deliveries are retried with exponential backoff on the
channel's own thread; a 4xx answer other than 408/429 is final (the receiver refused it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

TIMESTAMP_HEADER = "X-Etrade-Mcp-Timestamp"
SIGNATURE_HEADER = "X-Etrade-Mcp-Signature"
EVENT_HEADER = "X-Etrade-Mcp-Event"
DELIVERY_HEADER = "X-Etrade-Mcp-Delivery"
#: A receiver refuses a timestamp further than this from its own clock.
MAX_AGE_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, ``<timestamp>.<body>``)."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    received_signature: str,
    *,
    now: float | None = None,
    max_age: float = MAX_AGE_SECONDS,
) -> bool:
    """The receiver's check (the documented recipe): a fresh timestamp and a matching signature."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > max_age:
        return False
    expected = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + expected, received_signature)


def payload(event: str, title: str, message: str, data: Mapping[str, str], *, at: float) -> bytes:
    """The JSON body: compact and key-sorted, so the signed bytes are exactly what is sent."""
    document: dict[str, Any] = {
        "source": "etrade-mcp",
        "event": event,
        "title": title,
        "message": message,
        "data": dict(data),
        "at_unix_ms": int(at * 1000),
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


class DeliveryError(Exception):
    """A channel could not deliver; ``str()`` is the error class only (never a URL or a body)."""


class WebhookSender:
    """POSTs signed JSON to one URL, retrying with exponential backoff; runs on its channel's thread."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        attempts: int = 5,
        backoff: float = 2.0,
        max_backoff: float = 60.0,
        timeout: float = 10.0,
        stop: threading.Event | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        import requests

        self._url = url
        self._secret = secret
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._timeout = timeout
        self._stop = stop or threading.Event()
        self._now = wall_clock
        self._http = requests.Session()
        self._requests = requests

    def send(self, event: str, title: str, body: str, data: Mapping[str, str]) -> None:
        content = payload(event, title, body, data, at=self._now())
        delivery = uuid.uuid4().hex
        error = "not sent"
        for attempt in range(self._attempts):
            # Interruptible: a daemon shutting down does not wait out a backoff.
            if attempt and self._stop.wait(min(self._max_backoff, self._backoff * 2 ** (attempt - 1))):
                break
            timestamp = str(int(self._now()))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "etrade-mcp",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: signature(self._secret, timestamp, content),
                EVENT_HEADER: event,
                DELIVERY_HEADER: delivery,
            }
            try:
                response = self._http.post(
                    self._url, data=content, headers=headers, timeout=self._timeout, allow_redirects=False
                )
            except self._requests.RequestException as exc:
                error = type(exc).__name__
                continue
            status = response.status_code
            response.close()
            if 200 <= status < 300:
                return
            error = f"HTTP {status}"
            if 400 <= status < 500 and status not in (408, 429):
                break  # the receiver refused this request; sending it again changes nothing
        raise DeliveryError(error)

    def close(self) -> None:
        self._http.close()
