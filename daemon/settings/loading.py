"""Reading :class:`Settings` from flags, the environment, the config file and defaults, in that order."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from broker_client import paths
from daemon.settings.notifications import parse_channels
from daemon.settings.schema import Settings
from daemon.settings.values import SettingsError


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
