"""Settings of the caches, the rate limiter and the retries: parsed, validated, named in errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.settings import SettingsError, load_settings


def test_defaults_stay_under_etrade_limits() -> None:
    settings = load_settings(environ={}, config_path=Path("/nonexistent/config.toml"))
    assert settings.market_requests_per_second < 4
    assert settings.accounts_requests_per_second < 2 and settings.orders_requests_per_second < 2
    assert settings.market_burst <= 4 and settings.accounts_burst <= 2 and settings.orders_burst <= 2
    assert 0 < settings.quote_ttl_open <= settings.quote_ttl_closed


def test_environment_and_file_values_are_parsed(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("quote_ttl_closed = 120\nquote_override_symbol_count = false\n")
    settings = load_settings(
        environ={
            "ETRADE_QUOTE_TTL_OPEN": "0",
            "ETRADE_MARKET_REQUESTS_PER_SECOND": "2.5",
            "ETRADE_UPSTREAM_RETRIES": "0",
        },
        config_path=config,
    )
    assert settings.quote_ttl_open == 0  # 0 switches caching off
    assert settings.quote_ttl_closed == 120
    assert settings.quote_override_symbol_count is False
    assert settings.market_requests_per_second == 2.5
    assert settings.upstream_retries == 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ETRADE_QUOTE_TTL_OPEN", "-1"),
        ("ETRADE_MARKET_REQUESTS_PER_SECOND", "0"),
        ("ETRADE_MARKET_BURST", "0.5"),
        ("ETRADE_UPSTREAM_RETRIES", "-2"),
        ("ETRADE_QUOTE_REFRESH_AHEAD", "maybe"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={variable: value}, config_path=Path("/nonexistent/config.toml"))
    assert variable in caught.value.message
