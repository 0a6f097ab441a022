"""The user's E*TRADE alert inbox (Alerts API, ``/v1/user/alerts``).

Alert subjects and messages are written by others: E*TRADE repeats a symbol or a payee, and
anyone able to trigger an alert chooses part of its text. They are data for the model, never
instructions. This module keeps them inert: HTML tags are removed (E*TRADE is asked for plain
text, and tags are stripped again here), control characters are dropped and the text is capped.

Requests go through the gateway (``accounts`` rate-limit module). The list is retried when a
failure is transient; a details read is sent once, because E*TRADE answers a missing alert with
HTTP 500 (code 11); deletion is sent once and is the operator's call (the servicer refuses the proxy).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from broker_client.errors import ErrorCode, InvalidRequest, NotFound
from daemon.etrade.etrade_json import JSON, as_list, obj, text, whole
from daemon.etrade.upstream import EtradeApiError, EtradeHttp
from daemon.gateway.deadline import Deadline
from daemon.gateway.gateway import EtradeGateway

DEFAULT_LIMIT = 25
MAX_LIMIT = 300
MAX_TEXT = 4000
MAX_DELETE = 100
CATEGORIES = ("STOCK", "ACCOUNT")
STATUSES = ("READ", "UNREAD", "DELETED")
# E*TRADE: 404/53 "There are currently no alerts in your inbox."; 500/11 "Requested alert does not exist."
_EMPTY_INBOX = 53
_NO_SUCH_ALERT = 11
_BLOCK_TAG = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h[1-6])\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def inert(raw: str, limit: int = MAX_TEXT) -> str:
    """Alert text as plain, single-spaced text without markup or control characters, at most ``limit``."""
    cleaned = html.unescape(_TAG.sub("", _BLOCK_TAG.sub(" ", raw)))
    cleaned = _CONTROL.sub("", _ANSI.sub("", cleaned))
    cleaned = re.sub(r"[ \t\r\n]+", " ", cleaned).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: int
    created_at_unix: int
    subject: str
    status: str


@dataclass(frozen=True, slots=True)
class AlertList:
    alerts: tuple[Alert, ...]
    total: int


@dataclass(frozen=True, slots=True)
class AlertDetails:
    alert: Alert
    message: str
    symbol: str
    read_at_unix: int


@dataclass(frozen=True, slots=True)
class DeleteResult:
    deleted: tuple[int, ...]
    failed: tuple[int, ...]


def _alert(raw: object) -> Alert | None:
    a = obj(raw)
    alert_id = whole(a.get("id"))
    if alert_id <= 0:
        return None
    return Alert(
        alert_id=alert_id,
        created_at_unix=whole(a.get("createTime")),
        subject=inert(text(a.get("subject")), 300),
        status=text(a.get("status")).upper(),
    )


def parse_alerts(payload: JSON | None) -> AlertList:
    body = obj(obj(payload).get("AlertsResponse"))
    alerts = tuple(a for a in (_alert(raw) for raw in as_list(body.get("Alert"))) if a)
    return AlertList(alerts=alerts, total=max(whole(body.get("totalAlerts")), len(alerts)))


def parse_alert_details(payload: JSON | None) -> AlertDetails | None:
    body = obj(obj(payload).get("AlertDetailsResponse"))
    alert = _alert({**body, "status": "DELETED" if whole(body.get("deleteTime")) else "READ"})
    if alert is None:
        return None
    return AlertDetails(
        alert=alert,
        message=inert(text(body.get("msgText"))),
        symbol=text(body.get("symbol")).strip().upper(),
        read_at_unix=whole(body.get("readTime")),
    )


def parse_delete(payload: JSON | None, asked: Sequence[int]) -> DeleteResult:
    body = obj(obj(payload).get("AlertsResponse"))
    failed_raw = as_list(obj(body.get("failedAlerts")).get("alertId"))
    failed = {whole(x) for x in failed_raw}
    if text(body.get("result")).upper() not in ("SUCCESS", "ERROR"):
        failed = set(asked)  # an answer we cannot read deletes nothing we can vouch for
    return DeleteResult(
        deleted=tuple(i for i in asked if i not in failed), failed=tuple(i for i in asked if i in failed)
    )


class AlertsData:
    """Reads and deletes in the user's alert inbox."""

    def __init__(self, gateway: EtradeGateway, http: EtradeHttp) -> None:
        self._gateway = gateway
        self._http = http

    async def alerts(
        self,
        *,
        category: str = "",
        status: str = "",
        search: str = "",
        limit: int = 0,
        deadline: Deadline | None = None,
    ) -> AlertList:
        category, status = category.strip().upper(), status.strip().upper()
        if category and category not in CATEGORIES:
            raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, "category must be STOCK or ACCOUNT")
        if status and status not in STATUSES:
            raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, "status must be READ, UNREAD or DELETED")
        if limit < 0 or limit > MAX_LIMIT:
            raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, f"limit must be between 1 and {MAX_LIMIT}")
        if len(search) > 100:
            raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, "search must be at most 100 characters")
        params = {"count": str(limit or DEFAULT_LIMIT), "direction": "DESC"}
        if category:
            params["category"] = category
        if status:
            params["status"] = status
        if search.strip():
            params["search"] = search.strip()
        await self._gateway.require_session()
        try:
            payload = await self._gateway.get_json(
                "accounts", "/v1/user/alerts", params, deadline or Deadline.after(None)
            )
        except EtradeApiError as exc:
            if exc.etrade_code == _EMPTY_INBOX and exc.http_status == 404:
                return AlertList(alerts=(), total=0)
            raise
        return parse_alerts(payload)

    async def alert(self, alert_id: int, *, deadline: Deadline | None = None) -> AlertDetails:
        if alert_id <= 0:
            raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, "alert_id must be a positive id from list_alerts")
        await self._gateway.require_session()
        try:
            # One attempt: E*TRADE answers a missing alert with HTTP 500 code 11, which retrying cannot fix.
            payload = await self._gateway.once(
                "accounts",
                self._http.get_json,
                f"/v1/user/alerts/{alert_id}",
                {"htmlTags": "false"},
                deadline=deadline or Deadline.after(None),
            )
        except EtradeApiError as exc:
            if exc.etrade_code in (_NO_SUCH_ALERT, _EMPTY_INBOX):
                raise NotFound(ErrorCode.ALERT_NOT_FOUND, f"E*TRADE has no alert {alert_id}") from None
            raise
        details = parse_alert_details(payload)
        if details is None:
            raise NotFound(ErrorCode.ALERT_NOT_FOUND, f"E*TRADE has no alert {alert_id}")
        return details

    async def delete(self, alert_ids: Sequence[int], *, deadline: Deadline | None = None) -> DeleteResult:
        ids = list(dict.fromkeys(alert_ids))
        if not ids:
            raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, "give at least one alert id")
        if len(ids) > MAX_DELETE or any(i <= 0 for i in ids):
            raise InvalidRequest(
                ErrorCode.INVALID_ARGUMENT, f"give 1 to {MAX_DELETE} positive alert ids from `etradectl alerts`"
            )
        await self._gateway.require_session()
        path = "/v1/user/alerts/" + ",".join(str(i) for i in ids)
        payload = await self._gateway.once(
            "accounts", self._http.delete_json, path, deadline=deadline or Deadline.after(None)
        )
        return parse_delete(payload, ids)
