"""The Alerts API (reference §2.4, §3.10): the user's inbox of stock and account alerts.

- ``GET /v1/user/alerts``: ``count`` (default 25, at most 300), ``category`` STOCK|ACCOUNT (default
  both), ``status`` READ|UNREAD|DELETED (default READ and UNREAD), ``direction`` ASC|DESC by create
  time (default DESC), ``search`` (in the subject, case-insensitive). Nothing → 404 code 53.
- ``GET /v1/user/alerts/{id}``: details; ``htmlTags=true`` keeps the message's HTML, otherwise the
  tags are stripped. Reading an unread alert marks it READ. Id 0 → 400/499; unknown → 500/11 (as
  documented), with ``next``/``prev`` URLs of the neighbouring alerts.
- ``DELETE /v1/user/alerts/{id1,id2,…}``: marks them DELETED; ``result`` SUCCESS, or ERROR with
  ``failedAlerts.alertId`` listing the ids that do not exist or were already deleted.

The inbox is seeded (stock price alerts on held symbols, account notices) relative to the start
instant, and every fill of the order engine adds an account alert, as E*TRADE's execution notices do.
Alert text is data written by others (a price alert repeats a symbol, an account alert may quote a
payee): clients must never treat it as instructions.
"""

from __future__ import annotations

import html
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from emulator import universe
from emulator.book import Book, Fill
from emulator.clock import Clock
from emulator.errors import ApiError
from emulator.market import Market
from emulator.routing import Document, Request, Route

DEFAULT_COUNT = 25
MAX_COUNT = 300
CATEGORIES = ("STOCK", "ACCOUNT")
STATUSES = ("READ", "UNREAD", "DELETED")

NO_ALERTS = (53, "There are currently no alerts in your inbox.")
ALERT_ID_NOT_POSITIVE = (499, "Alert Id should be greater than 0.")
ALERT_DOES_NOT_EXIST = (11, "Requested alert does not exist.")

_TAG = re.compile(r"<[^>]+>")
_ID_LIST = re.compile(r"\d{1,18}(,\d{1,18})*")


@dataclass
class Alert:
    """One inbox entry. ``message`` is HTML, as E*TRADE stores it."""

    alert_id: int
    created_at: datetime
    category: str
    subject: str
    message: str
    symbol: str = ""
    status: str = "UNREAD"
    read_at: datetime | None = None
    deleted_at: datetime | None = None


def _epoch(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment is not None else 0


def plain_text(message: str) -> str:
    """The message without its HTML tags (entities decoded), as ``htmlTags=false`` answers it."""
    return html.unescape(_TAG.sub("", message)).strip()


class AlertInbox:
    """The demo user's alerts; seeded at start-up, fed by fills."""

    def __init__(self, book: Book, market: Market, clock: Clock) -> None:
        self.book = book
        self.market = market
        self.clock = clock
        self._lock = threading.Lock()
        self._alerts: dict[int, Alert] = {}
        self._next_id = 4100
        self._seed(clock.now())
        book.fill_listeners.append(self._on_fill)

    def add(self, category: str, subject: str, message: str, *, symbol: str = "", at: datetime | None = None) -> Alert:
        """A new unread alert (tests and the demo can add their own)."""
        if category not in CATEGORIES:
            raise ValueError(f"category must be one of {CATEGORIES}")
        with self._lock:
            self._next_id += 1
            alert = Alert(self._next_id, at or self.clock.now(), category, subject, message, symbol)
            self._alerts[alert.alert_id] = alert
            return alert

    def clear(self) -> None:
        """Empty the inbox (the 404/53 scenario)."""
        with self._lock:
            self._alerts.clear()

    def alerts(self) -> list[Alert]:
        with self._lock:
            return sorted(self._alerts.values(), key=lambda a: (a.created_at, a.alert_id))

    def mark_read(self, alert_id: int) -> None:
        """An unread alert becomes READ now (reading its details does this)."""
        with self._lock:
            alert = self._alerts.get(alert_id)
            if alert is not None and alert.status == "UNREAD":
                alert.status = "READ"
                alert.read_at = self.clock.now()

    def delete(self, alert_ids: list[int]) -> list[int]:
        """Mark alerts DELETED; returns the ids that do not exist or were deleted already."""
        failed: list[int] = []
        now = self.clock.now()
        with self._lock:
            for alert_id in alert_ids:
                alert = self._alerts.get(alert_id)
                if alert is None or alert.status == "DELETED":
                    failed.append(alert_id)
                    continue
                alert.status = "DELETED"
                alert.deleted_at = now
        return failed

    def _seed(self, start: datetime) -> None:
        held: list[str] = []
        for account in self.book.accounts():
            held.extend(p.symbol for p in account.positions.values() if p.symbol not in held)
        for index, symbol in enumerate(held[:4]):
            inst = universe.UNIVERSE.get(symbol)
            name = inst.company_name if inst is not None else symbol
            target = round(self.market.reference_price(symbol) * (1.05 if index % 2 == 0 else 0.95), 2)
            direction = "above" if index % 2 == 0 else "below"
            self.add(
                "STOCK",
                f"{symbol} traded {direction} {target:.2f}",
                f"<p>Your price alert for <b>{html.escape(symbol)}</b> ({html.escape(name)}) was triggered: "
                f"the last trade was {direction} <b>${target:.2f}</b>.</p>",
                symbol=symbol,
                at=start - timedelta(days=9 - 2 * index, hours=3),
            )
        notices = [
            ("Your monthly statement is ready", "<p>Your account statement for last month is available.</p>"),
            ("Dividend payment posted", "<p>A dividend payment was posted to your account.</p>"),
            ("Security notice: new device sign-in", "<p>We noticed a sign-in from a new device.</p>"),
        ]
        for index, (subject, message) in enumerate(notices):
            self.add("ACCOUNT", subject, message, at=start - timedelta(days=20 - 6 * index))
        # The oldest two have been read already.
        for alert in self.alerts()[:2]:
            alert.status = "READ"
            alert.read_at = alert.created_at + timedelta(hours=1)

    def _on_fill(self, fill: Fill) -> None:
        side = "bought" if fill.quantity > 0 else "sold"
        shares = f"{abs(fill.quantity):g}"
        self.add(
            "ACCOUNT",
            f"Order executed: {side} {shares} {fill.symbol}",
            f"<p>Your order{f' #{fill.order_no}' if fill.order_no else ''} was executed: {side} {shares} "
            f"shares of <b>{html.escape(fill.symbol)}</b> at ${fill.price:.2f}.</p>",
            symbol=fill.symbol,
            at=fill.at,
        )


class AlertsApi:
    """Handlers for the Alerts API (rate-limit module ``accounts``)."""

    def __init__(self, inbox: AlertInbox) -> None:
        self.inbox = inbox

    def routes(self) -> list[Route]:
        """This module's routes."""
        base = "/v1/user/alerts"
        return [
            Route("alerts_list", base, self.list_alerts, module="accounts"),
            Route("alert_details", f"{base}/{{alertId:int}}", self.details, module="accounts"),
            Route("alerts_delete", f"{base}/{{alertIds}}", self.delete, frozenset({"DELETE"}), module="accounts"),
        ]

    @staticmethod
    def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
        raw = request.param(name)
        if raw is None or raw == "":
            return None
        value = raw.upper()
        if value not in allowed:
            raise ApiError.invalid_parameter(name)
        return value

    def list_alerts(self, request: Request) -> Document:
        """``GET /v1/user/alerts``."""
        raw_count = request.param("count")
        count = DEFAULT_COUNT
        if raw_count not in (None, ""):
            if not raw_count.isdigit() or not 1 <= int(raw_count) <= MAX_COUNT:
                raise ApiError.invalid_parameter("count")
            count = int(raw_count)
        category = self._choice(request, "category", CATEGORIES)
        status = self._choice(request, "status", STATUSES)
        direction = self._choice(request, "direction", ("ASC", "DESC")) or "DESC"
        search = (request.param("search") or "").strip().lower()
        statuses = (status,) if status else ("READ", "UNREAD")
        found = [
            a
            for a in self.inbox.alerts()
            if a.status in statuses
            and (category is None or a.category == category)
            and (not search or search in a.subject.lower())
        ]
        if direction == "DESC":
            found.reverse()
        if not found:
            raise ApiError(404, *NO_ALERTS)
        rows = [
            {"id": a.alert_id, "createTime": _epoch(a.created_at), "subject": a.subject, "status": a.status}
            for a in found[:count]
        ]
        return Document("AlertsResponse", {"totalAlerts": len(found), "Alert": rows})

    def details(self, request: Request) -> Document:
        """``GET /v1/user/alerts/{id}[?htmlTags=true]``."""
        alert_id = int(request.params["alertId"])
        if alert_id <= 0:
            raise ApiError.bad_request(ALERT_ID_NOT_POSITIVE)
        keep_html = request.bool_param("htmlTags")
        ordered = self.inbox.alerts()
        index = next((i for i, a in enumerate(ordered) if a.alert_id == alert_id), None)
        if index is None:
            raise ApiError(500, *ALERT_DOES_NOT_EXIST)
        self.inbox.mark_read(alert_id)
        alert = ordered[index]
        base = f"{request.base_url}/v1/user/alerts{request.json_suffix}"
        content: dict[str, object] = {
            "id": alert.alert_id,
            "createTime": _epoch(alert.created_at),
            "subject": alert.subject,
            "msgText": alert.message if keep_html else plain_text(alert.message),
            "readTime": _epoch(alert.read_at),
            "deleteTime": _epoch(alert.deleted_at),
            "symbol": alert.symbol,
        }
        if index + 1 < len(ordered):
            content["next"] = f"{base}/{ordered[index + 1].alert_id}"
        if index > 0:
            content["prev"] = f"{base}/{ordered[index - 1].alert_id}"
        return Document("AlertDetailsResponse", content)

    def delete(self, request: Request) -> Document:
        """``DELETE /v1/user/alerts/{id1,id2,…}``."""
        raw = request.params["alertIds"]
        if not _ID_LIST.fullmatch(raw):
            raise ApiError.invalid_parameter("alertId")
        failed = self.inbox.delete([int(part) for part in raw.split(",")])
        content: dict[str, object] = {"result": "ERROR" if failed else "SUCCESS"}
        if failed:
            content["failedAlerts"] = {"alertId": failed}
        return Document("AlertsResponse", content)
