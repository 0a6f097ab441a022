"""What each part of the order desk needs from :class:`~daemon.settings.Settings`, and nothing more.

Every part takes its own small frozen config, built once by :func:`configs_from`, so a part's
constructor says which settings it depends on.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from daemon.orders.risk import RiskLimits
from daemon.orders.validation import PolicyLimits
from daemon.settings import Settings


@dataclass(frozen=True)
class CoreConfig:
    """The shared stores: pending confirmations and the order tracker."""

    confirmation_ttl_seconds: float
    confirmation_attempts: int
    #: Most pending places (and, apart, cancels) waiting at once.
    max_pending_orders: int
    tracker_keep_seconds: float


@dataclass(frozen=True)
class TradingConfig:
    """The halt switch, the circuit breaker and the static policy."""

    read_only: bool
    breaker_threshold: int
    breaker_window_seconds: float
    policy: PolicyLimits


@dataclass(frozen=True)
class UpstreamConfig:
    """The Orders module's requests: how long one may take."""

    upstream_timeout: float


@dataclass(frozen=True)
class PreviewConfig:
    max_order_quantity: int
    market_order_protection: bool
    drift_percent: Decimal
    #: Whether a desktop notification may show the confirmation code (the operator's choice).
    notify_codes: bool


@dataclass(frozen=True)
class SendConfig:
    #: How far the market may move between the preview and the send.
    drift_percent: Decimal


@dataclass(frozen=True)
class ReconcileConfig:
    interval_seconds: float
    grace_seconds: float


@dataclass(frozen=True)
class DeskConfigs:
    core: CoreConfig
    trading: TradingConfig
    upstream: UpstreamConfig
    preview: PreviewConfig
    send: SendConfig
    reconcile: ReconcileConfig
    risk: RiskLimits


def configs_from(settings: Settings) -> DeskConfigs:
    drift = Decimal(str(settings.placement_drift_percent))
    return DeskConfigs(
        core=CoreConfig(
            confirmation_ttl_seconds=settings.confirmation_ttl_seconds,
            confirmation_attempts=settings.confirmation_attempts,
            max_pending_orders=settings.max_pending_orders,
            tracker_keep_seconds=(settings.fill_watch_lookback_days + 2) * 86_400,
        ),
        trading=TradingConfig(
            read_only=settings.read_only,
            breaker_threshold=settings.breaker_threshold,
            breaker_window_seconds=settings.breaker_window_seconds,
            policy=PolicyLimits(
                read_only=settings.read_only,
                max_order_value=Decimal(str(settings.max_order_value)),
                price_band_percent=Decimal(str(settings.price_band_percent)),
                allowed_accounts=frozenset(settings.allowed_accounts),
                allowed_symbols=frozenset(settings.allowed_symbols),
                blocked_symbols=frozenset(settings.blocked_symbols),
            ),
        ),
        upstream=UpstreamConfig(upstream_timeout=settings.upstream_timeout),
        preview=PreviewConfig(
            max_order_quantity=settings.max_order_quantity,
            market_order_protection=settings.market_order_protection,
            drift_percent=drift,
            notify_codes=settings.notify_codes,
        ),
        send=SendConfig(drift_percent=drift),
        reconcile=ReconcileConfig(
            interval_seconds=settings.reconcile_interval_seconds, grace_seconds=settings.reconcile_grace_seconds
        ),
        risk=RiskLimits(
            max_position_percent=Decimal(str(settings.max_position_percent)),
            max_daily_orders=settings.max_daily_orders,
            max_daily_value=Decimal(str(settings.max_daily_value)),
            volatility_warn_percent=Decimal(str(settings.volatility_warn_percent)),
        ),
    )
