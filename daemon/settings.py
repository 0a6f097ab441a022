"""The daemon's settings: one typed object, read once at the entry point.

Precedence, highest first: command-line flags > ``ETRADE_*`` environment variables > the TOML
config file (``$XDG_CONFIG_HOME/etrade-mcp/config.toml``) > defaults. Library classes never read the
environment themselves; they take the values they need from :class:`Settings`.

To add a setting, add a field with ``setting(...)`` metadata; the loader, the validation and the
configuration reference (``etradectl config``/docs) all read the same metadata.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from broker_client import paths
from broker_client.errors import ErrorCode, InvalidRequest
from daemon.notifications.config import ChannelConfig, parse_channels

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


@dataclass(frozen=True)
class Settings:
    """Everything the daemon can be told. Immutable once loaded."""

    environment: Environment = setting(
        "sandbox",
        env="ETRADE_ENVIRONMENT",
        parse=parse_environment,
        doc="production (api.etrade.com), sandbox (apisb.etrade.com) or emulator (the local E*TRADE emulator)",
    )
    consumer_key: str | None = setting(
        None,
        env="ETRADE_CONSUMER_KEY",
        parse=parse_str,
        toml=False,
        secret=True,
        doc="E*TRADE consumer key; overrides the one stored by `etradectl auth setup`",
    )
    consumer_secret: str | None = setting(
        None,
        env="ETRADE_CONSUMER_SECRET",
        parse=parse_str,
        toml=False,
        secret=True,
        doc="E*TRADE consumer secret; overrides the one stored by `etradectl auth setup`",
    )
    socket: Path | None = setting(
        None,
        env=paths.SOCKET_ENV,
        parse=parse_path,
        doc="the daemon's unix socket (default $XDG_RUNTIME_DIR/etrade-mcp/broker.sock)",
    )
    state_dir: Path | None = setting(
        None,
        env=paths.STATE_ENV,
        parse=parse_path,
        doc="durable state: journal, audit log, opt-in file secret store (default $XDG_STATE_HOME/etrade-mcp)",
    )
    secret_store: SecretStoreKind = setting(
        "keyring",
        env="ETRADE_SECRET_STORE",
        parse=parse_secret_store,
        doc="keyring (the OS keyring) or file (a 0600 file in the state dir; less safe, explicit opt-in)",
    )
    clients_group: str = setting(
        "etrade-mcp",
        env="ETRADE_CLIENTS_GROUP",
        parse=parse_str,
        doc="protected mode (etrade-daemon --system): the group whose members may use the daemon's socket",
    )
    emulator_url: str | None = setting(
        None,
        env="ETRADE_EMULATOR_URL",
        parse=parse_str,
        doc="environment=emulator: use this running emulator instead of starting an embedded one",
    )
    read_only: bool = setting(
        True, env="ETRADE_READ_ONLY", parse=parse_bool, doc="refuse every order preview, placement and cancel"
    )
    max_order_value: float = setting(
        10_000.0,
        env="ETRADE_MAX_ORDER_VALUE",
        parse=parse_positive_float,
        doc="largest estimated value of a single order, in USD",
    )
    requests_per_minute: int = setting(
        600,
        env="ETRADE_REQUESTS_PER_MINUTE",
        parse=parse_positive_int,
        doc="overall ceiling on requests to E*TRADE per minute, across all modules",
    )
    # E*TRADE publishes Market 4/s and Accounts/Orders 2/s per consumer key (and 14,000/7,000 per
    # hour); the defaults stay under both so that the daemon never sees the "rate limit" page.
    market_requests_per_second: float = setting(
        3.5,
        env="ETRADE_MARKET_REQUESTS_PER_SECOND",
        parse=parse_positive_float,
        doc="requests per second to E*TRADE's market API (quotes, lookup); E*TRADE allows 4",
    )
    accounts_requests_per_second: float = setting(
        1.8,
        env="ETRADE_ACCOUNTS_REQUESTS_PER_SECOND",
        parse=parse_positive_float,
        doc="requests per second to E*TRADE's accounts API (lists, balances, portfolios); E*TRADE allows 2",
    )
    orders_requests_per_second: float = setting(
        1.8,
        env="ETRADE_ORDERS_REQUESTS_PER_SECOND",
        parse=parse_positive_float,
        doc="requests per second to E*TRADE's orders API; E*TRADE allows 2",
    )
    market_burst: float = setting(
        1.0,
        env="ETRADE_MARKET_BURST",
        parse=parse_burst,
        doc="market requests that may go back to back; at 1, quote misses arriving within one slot"
        " (about 0.3 s) of each other share the next request",
    )
    accounts_burst: float = setting(
        2.0,
        env="ETRADE_ACCOUNTS_BURST",
        parse=parse_burst,
        doc="accounts requests that may go back to back (a balance and a portfolio, say)",
    )
    orders_burst: float = setting(
        2.0,
        env="ETRADE_ORDERS_BURST",
        parse=parse_burst,
        doc="order requests that may go back to back (a preview and its placement, say)",
    )
    upstream_retries: int = setting(
        2,
        env="ETRADE_UPSTREAM_RETRIES",
        parse=parse_non_negative_int,
        doc="extra attempts for a read that failed transiently (5xx, timeout, code 163); orders never retry",
    )
    retry_backoff: float = setting(
        0.25,
        env="ETRADE_RETRY_BACKOFF",
        parse=parse_seconds,
        doc="seconds before the first retry of a read; doubles each retry (with jitter), within the deadline",
    )
    quote_ttl_open: float = setting(
        5.0,
        env="ETRADE_QUOTE_TTL_OPEN",
        parse=parse_non_negative_seconds,
        doc="seconds a quote is served from the cache during the regular session (0: no caching)",
    )
    quote_ttl_closed: float = setting(
        60.0,
        env="ETRADE_QUOTE_TTL_CLOSED",
        parse=parse_non_negative_seconds,
        doc="seconds a quote is served from the cache outside the regular session (09:30-16:00 ET)",
    )
    quote_override_symbol_count: bool = setting(
        True,
        env="ETRADE_QUOTE_OVERRIDE_SYMBOL_COUNT",
        parse=parse_bool,
        doc="batch up to 50 symbols per quote request (E*TRADE's overrideSymbolCount) instead of 25",
    )
    quote_batch_window_ms: float = setting(
        3.0,
        env="ETRADE_QUOTE_BATCH_WINDOW_MS",
        parse=parse_non_negative_float,
        doc="a quote miss waits until no other miss arrived for this many milliseconds (at most 8 times"
        " over) so that concurrent misses share one request",
    )
    quote_refresh_ahead: bool = setting(
        True,
        env="ETRADE_QUOTE_REFRESH_AHEAD",
        parse=parse_bool,
        doc="fill quote requests with recently asked symbols that are half-way to stale",
    )
    account_cache_ttl: float = setting(
        10.0,
        env="ETRADE_ACCOUNT_CACHE_TTL",
        parse=parse_non_negative_seconds,
        doc="seconds balances, portfolios and transactions are served from the cache (dropped on the daemon's own orders)",
    )
    account_list_cache_ttl: float = setting(
        60.0,
        env="ETRADE_ACCOUNT_LIST_CACHE_TTL",
        parse=parse_non_negative_seconds,
        doc="seconds the list of accounts is served from the cache",
    )
    upstream_timeout: float = setting(
        15.0,
        env="ETRADE_UPSTREAM_TIMEOUT",
        parse=parse_seconds,
        doc="seconds to wait for one E*TRADE HTTP response",
    )
    renew_after_minutes: float = setting(
        90.0,
        env="ETRADE_RENEW_AFTER_MINUTES",
        parse=parse_renew_after,
        doc="renew the E*TRADE token after this many minutes without a request (E*TRADE idles it at 120)",
    )
    expiry_warning_minutes: int = setting(
        15,
        env="ETRADE_EXPIRY_WARNING_MINUTES",
        parse=parse_warning_minutes,
        doc="warn this many minutes before the session ends at midnight US Eastern (0: no warning)",
    )
    login_reminder: str = setting(
        "09:00",
        env="ETRADE_LOGIN_REMINDER",
        parse=parse_reminder_time,
        doc="weekdays at this US Eastern time, remind the human to log in if the session is dead (off: never)",
    )
    desktop_notifications: bool = setting(
        True,
        env="ETRADE_DESKTOP_NOTIFICATIONS",
        parse=parse_bool,
        doc="show login reminders and expiry warnings as desktop notifications where the platform has them",
    )
    emulator_clock_poll: float = setting(
        1.0,
        env="ETRADE_EMULATOR_CLOCK_POLL",
        parse=parse_seconds,
        doc="environment=emulator: seconds between readings of the emulator's clock (the daemon follows it)",
    )
    log_level: str = setting("INFO", env="ETRADE_LOG_LEVEL", parse=parse_log_level, doc="DEBUG, INFO, WARNING or ERROR")
    # --- orders (issue 4): every limit the safety policy applies ------------------------------
    max_order_quantity: int = setting(
        10_000, env="ETRADE_MAX_ORDER_QUANTITY", parse=parse_positive_int, doc="most shares in a single order"
    )
    price_band_percent: float = setting(
        50.0,
        env="ETRADE_PRICE_BAND_PERCENT",
        parse=parse_percent,
        doc="limit and stop prices must lie within this many percent of the live quote",
    )
    placement_drift_percent: float = setting(
        2.0,
        env="ETRADE_PLACEMENT_DRIFT_PERCENT",
        parse=parse_percent,
        doc="an approved order is refused (nothing sent) when the market moved more than this many percent "
        "between its preview and its confirmation; protected market orders are capped by it too",
    )
    market_order_protection: bool = setting(
        False,
        env="ETRADE_MARKET_ORDER_PROTECTION",
        parse=parse_bool,
        doc="preview and send a MARKET order as a marketable LIMIT order at the previewed price plus "
        "ETRADE_PLACEMENT_DRIFT_PERCENT (minus, for sells), so its fill can never be worse than that",
    )
    allowed_accounts: tuple[str, ...] = setting(
        (),
        env="ETRADE_ALLOWED_ACCOUNTS",
        parse=parse_str_list,
        doc="comma-separated account_id_keys that may trade (empty: every open account)",
    )
    allowed_symbols: tuple[str, ...] = setting(
        (),
        env="ETRADE_ALLOWED_SYMBOLS",
        parse=parse_symbol_list,
        doc="comma-separated symbols that may be traded (empty: any)",
    )
    blocked_symbols: tuple[str, ...] = setting(
        (), env="ETRADE_BLOCKED_SYMBOLS", parse=parse_symbol_list, doc="comma-separated symbols that may not be traded"
    )
    confirmation_ttl_seconds: float = setting(
        300.0,
        env="ETRADE_CONFIRMATION_TTL_SECONDS",
        parse=parse_seconds,
        doc="how long a pending order waits for the human's confirmation",
    )
    confirmation_attempts: int = setting(
        3,
        env="ETRADE_CONFIRMATION_ATTEMPTS",
        parse=parse_positive_int,
        doc="wrong confirmation codes that void a pending order",
    )
    max_position_percent: float = setting(
        25.0,
        env="ETRADE_MAX_POSITION_PERCENT",
        parse=parse_percent,
        doc="largest share of the account's value one position may reach through a buy or short sale",
    )
    max_daily_orders: int = setting(
        25,
        env="ETRADE_MAX_DAILY_ORDERS",
        parse=parse_positive_int,
        doc="orders the daemon may place per US Eastern day",
    )
    max_daily_value: float = setting(
        50_000.0,
        env="ETRADE_MAX_DAILY_VALUE",
        parse=parse_positive_float,
        doc="total estimated value of the orders placed per US Eastern day, in USD",
    )
    volatility_warn_percent: float = setting(
        5.0,
        env="ETRADE_VOLATILITY_WARN_PERCENT",
        parse=parse_percent,
        doc="warn when the day's move or range exceeds this many percent of the previous close",
    )
    breaker_threshold: int = setting(
        5,
        env="ETRADE_BREAKER_THRESHOLD",
        parse=parse_positive_int,
        doc="refusals, wrong codes or upstream order errors within the window that halt trading",
    )
    breaker_window_seconds: float = setting(
        300.0, env="ETRADE_BREAKER_WINDOW_SECONDS", parse=parse_seconds, doc="the circuit breaker's window"
    )
    reconcile_interval_seconds: float = setting(
        30.0,
        env="ETRADE_RECONCILE_INTERVAL_SECONDS",
        parse=parse_seconds,
        doc="how often orders with an unknown outcome are looked for in E*TRADE's order list",
    )
    reconcile_grace_seconds: float = setting(
        600.0,
        env="ETRADE_RECONCILE_GRACE_SECONDS",
        parse=parse_seconds,
        doc="after this long, an unknown outcome that E*TRADE does not list is reported as not placed",
    )
    fill_watch_interval_seconds: float = setting(
        10.0,
        env="ETRADE_FILL_WATCH_INTERVAL_SECONDS",
        parse=parse_seconds,
        doc="while orders are working at E*TRADE, how often the daemon lists them to notice fills "
        "(one Orders request per account with working orders; it stops when none are working)",
    )
    fill_watch_idle_check_seconds: float = setting(
        300.0,
        env="ETRADE_FILL_WATCH_IDLE_CHECK_SECONDS",
        parse=parse_non_negative_seconds,
        doc="how often every account's orders are looked at for orders placed outside this system "
        "(on E*TRADE's web site or app); 0: only at login and when an order is placed here",
    )
    fill_watch_max_backoff_seconds: float = setting(
        300.0,
        env="ETRADE_FILL_WATCH_MAX_BACKOFF_SECONDS",
        parse=parse_seconds,
        doc="the longest pause of the fill watcher after failed requests (it doubles from the interval)",
    )
    fill_watch_lookback_days: int = setting(
        60,
        env="ETRADE_FILL_WATCH_LOOKBACK_DAYS",
        parse=parse_positive_int,
        doc="how far back the fill watcher lists orders (good-until-cancel orders live up to 60 days)",
    )
    notify_codes: bool = setting(
        False,
        env="ETRADE_NOTIFY_CODES",
        parse=parse_bool,
        doc="show each new confirmation code in a desktop notification; anything that can read your "
        "screen or your session bus (a same-user shell) then reads the code (see docs/safety.md)",
    )
    # --- notifications: phone, chat, email, webhooks -------------------------------------------
    notification_channels: tuple[ChannelConfig, ...] = setting(
        (),
        env="ETRADE_NOTIFICATION_CHANNELS",
        parse=parse_channels_json,
        doc="notification channels: `[[notifications.channels]]` tables in config.toml (name, events, "
        "trusted_for_codes, type; the variable takes them as a JSON list), see docs/notifications.md; "
        "their URLs live in the secret store (`etradectl notify store NAME`), never here",
    )

    def resolved_socket(self) -> Path:
        return paths.socket_path(self.socket)

    def resolved_state_dir(self) -> Path:
        return paths.state_dir(self.state_dir)

    def public_view(self) -> dict[str, str]:
        """The settings as strings for display, with secrets reduced to set/unset."""
        view: dict[str, str] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("secret"):
                view[f.name] = "(set)" if value else "(unset)"
            elif f.name == "notification_channels":
                # Names, events and trust only: a channel's URL is never part of the settings.
                view[f.name] = "; ".join(channel.describe() for channel in value)
            else:
                view[f.name] = "" if value is None else str(value)
        return view


def describe() -> list[tuple[str, str | None, str, str]]:
    """(name, environment variable, default, documentation) for every setting, for the docs."""
    rows = []
    for f in dataclasses.fields(Settings):
        default = "" if f.default is None else str(f.default)
        rows.append((f.name, f.metadata.get("env"), default, f.metadata["doc"]))
    return rows


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_path: Path | None = None,
) -> Settings:
    """Build :class:`Settings` from flags, the environment, the config file and defaults.

    ``flags`` holds already-typed values from the command line (``None`` means "not given").
    Raises :class:`SettingsError` naming the setting and where its bad value came from.
    """
    environ = os.environ if environ is None else environ
    path = config_path if config_path is not None else paths.config_file(environ.get(paths.CONFIG_ENV))
    file_values = _read_toml(path)
    values: dict[str, Any] = {}
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(file_values) - known - _TOML_SECTIONS)
    if unknown:
        raise SettingsError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    for f in dataclasses.fields(Settings):
        meta = f.metadata
        parse: Callable[[str], Any] = meta["parse"]
        if flags and flags.get(f.name) is not None:
            values[f.name] = flags[f.name]
            continue
        env_name = meta.get("env")
        if env_name and environ.get(env_name, "") != "":
            values[f.name] = _parse(parse, environ[env_name], f"environment variable {env_name}")
            continue
        if f.name in file_values:
            if not meta.get("toml", True):
                raise SettingsError(
                    f"{path}: {f.name} must not be stored in the config file; use {env_name} or `etradectl auth setup`"
                )
            raw = file_values[f.name]
            if isinstance(raw, list):  # TOML arrays for list settings: allowed_accounts = ["k1", "k2"]
                raw = ",".join(str(item) for item in raw)
            values[f.name] = _parse(parse, str(raw).lower() if isinstance(raw, bool) else str(raw), f"{path}: {f.name}")
    if "notifications" in file_values and "notification_channels" not in values:
        values["notification_channels"] = _parse(
            parse_channels, file_values["notifications"], f"{path}: [notifications]"
        )
    return Settings(**values)


# Tables in the config file that belong to other parts (e.g. [watchlists]) or that are read apart
# from the flat settings ([notifications] holds a list of tables).
_TOML_SECTIONS = {"watchlists", "notifications"}


def _parse(parse: Callable[[str], Any], raw: str, source: str) -> Any:
    try:
        return parse(raw)
    except ValueError as exc:
        raise SettingsError(f"{source}: {exc}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror}") from None
