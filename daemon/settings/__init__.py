"""The daemon's settings: one typed object, read once at the entry point.

Precedence, highest first: command-line flags > ``ETRADE_*`` environment variables > the TOML
config file (``$XDG_CONFIG_HOME/etrade-mcp/config.toml``) > defaults. Library classes never read the
environment themselves; they take the values they need from :class:`Settings`.

To add a setting, add a field with ``setting(...)`` metadata in :mod:`daemon.settings.schema`; the
loader, the validation and the configuration reference (``etradectl config``/docs) all read the same
metadata. ``values`` holds the parsers, ``schema`` the :class:`Settings` class, ``loading`` the
precedence rules, ``notifications`` the ``[notifications]`` channel tables.

May import: broker_client and the standard library only (it is the bottom of the daemon: every
package reads it, and ``etradectl`` imports it by this name).
"""

from daemon.settings.loading import load_settings
from daemon.settings.schema import Settings, describe
from daemon.settings.values import (
    ENVIRONMENTS,
    MAX_SECONDS,
    PRODUCTION_API,
    SANDBOX_API,
    Environment,
    SecretStoreKind,
    SettingsError,
    parse_bool,
    setting,
)

__all__ = [
    "ENVIRONMENTS",
    "MAX_SECONDS",
    "PRODUCTION_API",
    "SANDBOX_API",
    "Environment",
    "SecretStoreKind",
    "Settings",
    "SettingsError",
    "describe",
    "load_settings",
    "parse_bool",
    "setting",
]
