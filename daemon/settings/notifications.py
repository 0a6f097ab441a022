"""Channel configuration: ``[[notifications.channels]]`` tables, event names, secret names, masking."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

ChannelType = Literal["apprise", "webhook"]

ORDER_PENDING = "order_pending"
ORDER_PLACED = "order_placed"
ORDER_FILLED = "order_filled"
ORDER_CANCELLED = "order_cancelled"
ORDER_REJECTED = "order_rejected"
ORDER_EXPIRED = "order_expired"
SESSION_EXPIRING = "session_expiring"
SESSION_EXPIRED = "session_expired"
LOGIN_REMINDER = "login_reminder"
TRADING_HALTED = "trading_halted"
TRADING_RESUMED = "trading_resumed"
BREAKER_TRIPPED = "breaker_tripped"
JOURNAL_ATTENTION = "journal_attention"
#: ``etradectl notify test``: reaches every channel whatever its events.
TEST = "test"

#: The names a channel's ``events`` may list (or ``"all"``).
EVENT_NAMES: tuple[str, ...] = (
    ORDER_PENDING,
    ORDER_PLACED,
    ORDER_FILLED,
    ORDER_CANCELLED,
    ORDER_REJECTED,
    ORDER_EXPIRED,
    SESSION_EXPIRING,
    SESSION_EXPIRED,
    LOGIN_REMINDER,
    TRADING_HALTED,
    TRADING_RESUMED,
    BREAKER_TRIPPED,
    JOURNAL_ATTENTION,
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
_KEYS = {"name", "events", "trusted_for_codes", "type"}


@dataclass(frozen=True)
class ChannelConfig:
    """One channel. Its URL is not here: it lives in the secret store (:func:`url_secret`)."""

    name: str
    #: The event names it receives; None means all.
    events: frozenset[str] | None = None
    #: Whether a pending order's confirmation code may be sent to it.
    trusted_for_codes: bool = False
    type: ChannelType = "apprise"

    def wants(self, event: str) -> bool:
        return event == TEST or self.events is None or event in self.events

    def describe(self) -> str:
        events = "all" if self.events is None else ",".join(sorted(self.events))
        trusted = ", trusted for codes" if self.trusted_for_codes else ""
        return f"{self.name} ({self.type}: {events}{trusted})"

    def __str__(self) -> str:
        return self.describe()


def check_channel_name(name: str) -> str:
    """A channel name: letters, digits, ``-`` and ``_``, at most 40 characters. Raises ValueError."""
    if not _NAME.match(name or ""):
        raise ValueError(
            f"a channel name is 1-40 letters, digits, '-' or '_' (starting with a letter or digit), got {name!r}"
        )
    return name


def url_secret(name: str) -> str:
    """The secret store entry holding the channel's URL."""
    return f"notify.{name}.url"


def signing_secret(name: str) -> str:
    """The secret store entry holding a webhook channel's HMAC key."""
    return f"notify.{name}.signing_secret"


def mask_url(url: str | None) -> str:
    """``ntfy://****``: the scheme only, never a host, a token or a path ("" when no URL)."""
    if not url:
        return ""
    scheme = urlsplit(url).scheme if "://" in url else ""
    return f"{scheme}://****" if scheme and scheme.isascii() and scheme.replace("+", "").isalnum() else "****"


def parse_channels(table: Any) -> tuple[ChannelConfig, ...]:
    """The ``[notifications]`` table of config.toml into channels. Raises ValueError naming the problem."""
    if not isinstance(table, Mapping):
        raise ValueError("[notifications] must be a table with a list of [[notifications.channels]]")
    unknown = sorted(set(table) - {"channels"})
    if unknown:
        raise ValueError(f"[notifications]: unknown key(s) {', '.join(unknown)} (only [[notifications.channels]])")
    raw_channels = table.get("channels", [])
    if not isinstance(raw_channels, list):
        raise ValueError("notifications.channels must be a list of tables ([[notifications.channels]])")
    channels: list[ChannelConfig] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_channels, 1):
        where = f"[[notifications.channels]] #{index}"
        if not isinstance(raw, Mapping):
            raise ValueError(f"{where} must be a table")
        if "url" in raw or "signing_secret" in raw:
            raise ValueError(
                f"{where}: a channel's URL and signing secret are secrets and never go in config.toml; "
                f"remove them and run `etradectl notify store {raw.get('name', 'NAME')}`"
            )
        unknown = sorted(set(raw) - _KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)} (expected {', '.join(sorted(_KEYS))})")
        name = raw.get("name")
        if not isinstance(name, str):
            raise ValueError(f"{where}: name is required (a string)")
        check_channel_name(name)
        if name in seen:
            raise ValueError(f"{where}: the channel name {name!r} is used twice")
        seen.add(name)
        channels.append(
            ChannelConfig(
                name=name,
                events=_events(raw.get("events", "all"), where),
                trusted_for_codes=_bool(raw.get("trusted_for_codes", False), f"{where}: trusted_for_codes"),
                type=_type(raw.get("type", "apprise"), where),
            )
        )
    return tuple(channels)


def _events(raw: Any, where: str) -> frozenset[str] | None:
    if raw == "all" or raw == ["all"]:
        return None
    if isinstance(raw, str) or not isinstance(raw, list) or not all(isinstance(e, str) for e in raw):
        raise ValueError(f'{where}: events must be "all" or a list of event names')
    unknown = sorted(set(raw) - set(EVENT_NAMES))
    if unknown:
        raise ValueError(f"{where}: unknown event(s) {', '.join(unknown)}; known: {', '.join(EVENT_NAMES)}")
    return frozenset(raw)


def _bool(raw: Any, where: str) -> bool:
    if not isinstance(raw, bool):
        raise ValueError(f"{where} must be true or false")
    return raw


def _type(raw: Any, where: str) -> ChannelType:
    if raw == "apprise":
        return "apprise"
    if raw == "webhook":
        return "webhook"
    raise ValueError(f'{where}: type must be "apprise" (the default) or "webhook" (a signed JSON POST)')
