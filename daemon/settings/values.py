"""The settings' value types and parsers: each turns the text of a flag, variable or file entry into a
typed value or raises ValueError saying what was expected."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import field
from pathlib import Path
from typing import Any, Literal, cast

from broker_client.errors import ErrorCode, InvalidRequest
from daemon.settings.notifications import ChannelConfig, parse_channels

Environment = Literal["production", "sandbox", "emulator"]
ENVIRONMENTS: tuple[Environment, ...] = ("production", "sandbox", "emulator")
#: E*TRADE's REST hosts for the two real environments (the emulator's is ``emulator_url``).
PRODUCTION_API = "https://api.etrade.com"
SANDBOX_API = "https://apisb.etrade.com"
SecretStoreKind = Literal["keyring", "file", "memory"]


class SettingsError(InvalidRequest):
    """A setting has a value that cannot be used; the message names the setting and its source."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.INVALID_ARGUMENT, message, hint="fix the setting named above and start again")


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _finite(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {raw!r}")
    return value


#: The longest any duration setting may be: longer ones overflow timers and dates, and no wait,
#: cache or confirmation in a trading day is meant to outlast one.
MAX_SECONDS = 86_400.0


def parse_seconds(raw: str) -> float:
    """A positive duration in seconds, at most a day."""
    value = _finite(raw)
    if not 0 < value <= MAX_SECONDS:
        raise ValueError(f"expected seconds above 0 and at most {MAX_SECONDS:.0f} (a day), got {raw!r}")
    return value


def parse_non_negative_seconds(raw: str) -> float:
    """A duration in seconds from 0 (off) to a day."""
    value = _finite(raw)
    if not 0 <= value <= MAX_SECONDS:
        raise ValueError(f"expected seconds from 0 to {MAX_SECONDS:.0f} (a day), got {raw!r}")
    return value


def parse_positive_float(raw: str) -> float:
    value = _finite(raw)
    if not value > 0:
        raise ValueError(f"expected a positive number, got {raw!r}")
    return value


def parse_positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(f"expected a positive whole number, got {raw!r}")
    return value


def parse_percent(raw: str) -> float:
    value = _finite(raw)
    if not 0 < value <= 100:
        raise ValueError(f"expected a percentage above 0 and at most 100, got {raw!r}")
    return value


def parse_symbol_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip().upper() for part in raw.split(",") if part.strip())


def parse_non_negative_float(raw: str) -> float:
    value = _finite(raw)
    if not value >= 0:
        raise ValueError(f"expected zero or a positive number, got {raw!r}")
    return value


def parse_non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError(f"expected zero or a positive whole number, got {raw!r}")
    return value


def parse_burst(raw: str) -> float:
    value = _finite(raw)
    if not value >= 1:
        raise ValueError(f"expected a number of requests of at least 1, got {raw!r}")
    return value


def parse_environment(raw: str) -> Environment:
    value = raw.strip().lower()
    if value not in ENVIRONMENTS:
        raise ValueError(f"expected one of {', '.join(ENVIRONMENTS)}, got {raw!r}")
    return value


def parse_secret_store(raw: str) -> SecretStoreKind:
    value = raw.strip().lower()
    if value not in ("keyring", "file", "memory"):
        raise ValueError(f"expected keyring or file, got {raw!r}")
    return cast(SecretStoreKind, value)


def parse_log_level(raw: str) -> str:
    value = raw.strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError(f"expected DEBUG, INFO, WARNING or ERROR, got {raw!r}")
    return value


def parse_str(raw: str) -> str:
    return raw


def parse_renew_after(raw: str) -> float:
    value = _finite(raw)
    if not 1 <= value < 120:
        raise ValueError(f"expected minutes from 1 to 119 (E*TRADE inactivates a token after 120), got {raw!r}")
    return value


def parse_warning_minutes(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 720:
        raise ValueError(f"expected minutes from 0 (no warning) to 720, got {raw!r}")
    return value


def parse_reminder_time(raw: str) -> str:
    """``HH:MM`` (24-hour, US Eastern) or ``off``."""
    value = raw.strip().lower()
    if value in {"off", "none", "false", "no"}:
        return "off"
    hours, sep, minutes = value.partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"expected HH:MM (US Eastern, 24-hour) or off, got {raw!r}")
    if not (0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59):
        raise ValueError(f"expected a time of day HH:MM, got {raw!r}")
    return f"{int(hours):02d}:{minutes}"


def parse_path(raw: str) -> Path:
    return Path(raw).expanduser()


def parse_str_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def parse_channels_json(raw: str) -> tuple[ChannelConfig, ...]:
    """The environment's form of ``[[notifications.channels]]``: a JSON list of the same tables."""
    try:
        channels = json.loads(raw)
    except ValueError:
        raise ValueError('expected a JSON list such as [{"name": "phone", "events": "all"}]') from None
    return parse_channels({"channels": channels})


def setting(
    default: Any,
    *,
    env: str | None,
    parse: Callable[[str], Any],
    doc: str,
    toml: bool = True,
    secret: bool = False,
) -> Any:
    """Declare a setting: its default, environment variable, parser and one-line documentation."""
    metadata = {"env": env, "parse": parse, "doc": doc, "toml": toml, "secret": secret}
    if isinstance(default, list | dict):
        raise TypeError("use tuples for sequence defaults; settings are immutable")
    return field(default=default, metadata=metadata)
