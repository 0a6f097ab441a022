from __future__ import annotations

from pathlib import Path

import pytest

from daemon.settings import Settings, SettingsError, describe, load_settings


def test_defaults_are_read_only_sandbox(tmp_path: Path) -> None:
    settings = load_settings(environ={}, config_path=tmp_path / "missing.toml")
    assert settings.environment == "sandbox"
    assert settings.read_only is True
    assert settings.max_order_value == 10_000.0


def test_flags_beat_environment_beat_file_beat_defaults(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('environment = "production"\nmax_order_value = 500\nread_only = false\n')
    from_file = load_settings(environ={}, config_path=config)
    assert (from_file.environment, from_file.max_order_value, from_file.read_only) == ("production", 500.0, False)

    env = {"ETRADE_ENVIRONMENT": "emulator", "ETRADE_MAX_ORDER_VALUE": "250"}
    from_env = load_settings(environ=env, config_path=config)
    assert (from_env.environment, from_env.max_order_value) == ("emulator", 250.0)

    from_flags = load_settings({"environment": "sandbox"}, environ=env, config_path=config)
    assert from_flags.environment == "sandbox"
    assert from_flags.max_order_value == 250.0


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"ETRADE_ENVIRONMENT": "live"}, "ETRADE_ENVIRONMENT"),
        ({"ETRADE_READ_ONLY": "maybe"}, "ETRADE_READ_ONLY"),
        ({"ETRADE_MAX_ORDER_VALUE": "-5"}, "ETRADE_MAX_ORDER_VALUE"),
        ({"ETRADE_REQUESTS_PER_MINUTE": "many"}, "ETRADE_REQUESTS_PER_MINUTE"),
        # Non-finite and overlong values once passed and broke timers, dates and caps later.
        ({"ETRADE_MAX_ORDER_VALUE": "inf"}, "ETRADE_MAX_ORDER_VALUE"),
        ({"ETRADE_CONFIRMATION_TTL_SECONDS": "inf"}, "ETRADE_CONFIRMATION_TTL_SECONDS"),
        ({"ETRADE_UPSTREAM_TIMEOUT": "1e308"}, "ETRADE_UPSTREAM_TIMEOUT"),
        ({"ETRADE_EMULATOR_CLOCK_POLL": "inf"}, "ETRADE_EMULATOR_CLOCK_POLL"),
        ({"ETRADE_QUOTE_TTL_OPEN": "nan"}, "ETRADE_QUOTE_TTL_OPEN"),
        ({"ETRADE_PRICE_BAND_PERCENT": "nan"}, "ETRADE_PRICE_BAND_PERCENT"),
    ],
)
def test_a_bad_value_names_the_setting_and_its_source(tmp_path: Path, environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ=environ, config_path=tmp_path / "none.toml")
    assert named in caught.value.message


def test_a_broken_or_unknown_config_file_is_refused_with_its_path(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("environment = \n")
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={}, config_path=broken)
    assert str(broken) in caught.value.message

    unknown = tmp_path / "unknown.toml"
    unknown.write_text('enviroment = "production"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={}, config_path=unknown)
    assert "enviroment" in caught.value.message


def test_secrets_are_refused_in_the_config_file_and_hidden_in_views(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('consumer_secret = "abc"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={}, config_path=config)
    assert "consumer_secret" in caught.value.message

    settings = Settings(consumer_key="k" * 32, consumer_secret="s3cr3t-value")
    view = settings.public_view()
    assert "s3cr3t-value" not in str(view)
    assert view["consumer_secret"] == "(set)"


def test_every_setting_is_documented_with_its_variable() -> None:
    rows = describe()
    assert {name for name, *_ in rows} >= {"environment", "read_only", "max_order_value", "requests_per_minute"}
    for name, env, _default, doc in rows:
        assert doc, name
        assert env and env.startswith("ETRADE_"), name


def test_infinity_in_the_config_file_is_refused_too(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("max_order_value = inf\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={}, config_path=config)
    assert "max_order_value" in caught.value.message and "finite" in caught.value.message
