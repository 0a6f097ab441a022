"""The :class:`Settings` schema: every setting with its default, variable, parser and documentation."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from broker_client import paths
from daemon.settings.notifications import ChannelConfig
from daemon.settings.values import (
    Environment,
    SecretStoreKind,
    parse_bool,
    parse_burst,
    parse_channels_json,
    parse_environment,
    parse_log_level,
    parse_non_negative_float,
    parse_non_negative_int,
    parse_non_negative_seconds,
    parse_path,
    parse_percent,
    parse_positive_float,
    parse_positive_int,
    parse_reminder_time,
    parse_renew_after,
    parse_seconds,
    parse_secret_store,
    parse_str,
    parse_str_list,
    parse_symbol_list,
    parse_warning_minutes,
    setting,
)


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
    max_pending_orders: int = setting(
        20,
        env="ETRADE_MAX_PENDING_ORDERS",
        parse=parse_positive_int,
        doc="most orders that may wait for the human's approval at once; a preview beyond it is refused "
        "before E*TRADE is asked (cancels are not counted: at most one waits per order). 20 holds a rebalancing basket and still "
        "fits one screen of `etradectl orders pending`; more than ETRADE_MAX_DAILY_ORDERS could never "
        "all be placed the same day anyway",
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

    notify_pending_limit: int = setting(
        5,
        env="ETRADE_NOTIFY_PENDING_LIMIT",
        parse=parse_positive_int,
        doc='per notification channel, at most this many "order pending" notifications per window; '
        "the rest are told in one summary when the window ends (other events are never capped)",
    )
    notify_pending_window_seconds: float = setting(
        600.0,
        env="ETRADE_NOTIFY_PENDING_WINDOW_SECONDS",
        parse=parse_seconds,
        doc="the window of `notify_pending_limit`, opened by the first pending order notified",
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
