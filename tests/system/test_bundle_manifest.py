"""The MCP bundle's manifest (mcpb/manifest.json, rendered by ``make bundle``): valid JSON with the
fields the MCPB manifest specification (v0.4) requires, starting the bundled etrade-mcp with the
daemon's socket from the user's configuration. The bundle itself is built by ``make bundle`` only."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import pytest

from broker_client import VERSION
from broker_client.paths import SOCKET_ENV, default_socket_path, socket_path
from mcpb.build import HERE, TEMPLATE, render_manifest

#: The v0.4 specification's top-level keys (it rejects any other) and those it requires.
ALLOWED = {
    "$schema", "dxt_version", "manifest_version", "name", "display_name", "version", "description",
    "long_description", "author", "repository", "homepage", "documentation", "support", "icon", "icons",
    "screenshots", "localization", "server", "tools", "tools_generated", "prompts", "prompts_generated",
    "keywords", "license", "privacy_policies", "compatibility", "user_config", "_meta",
}  # fmt: skip
REQUIRED = {"name", "version", "description", "author", "server"}
USER_CONFIG_TYPES = {"string", "number", "boolean", "directory", "file"}


def manifest() -> dict[str, Any]:
    return render_manifest(platform="linux", python=(3, 11))


def test_the_template_is_json_with_the_required_fields() -> None:
    template = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    assert REQUIRED <= set(template) <= ALLOWED
    assert template["manifest_version"] == "0.4"
    assert template["author"]["name"]


def test_the_rendered_manifest_carries_the_release_and_the_build_platform() -> None:
    rendered = manifest()
    assert REQUIRED <= set(rendered) <= ALLOWED
    assert rendered["version"] == VERSION
    assert rendered["compatibility"] == {"platforms": ["linux"], "runtimes": {"python": ">=3.11,<3.12"}}


def test_the_server_is_the_bundled_etrade_mcp() -> None:
    server = manifest()["server"]
    assert server["type"] == "python"
    assert set(server) == {"type", "entry_point", "mcp_config"}
    assert server["entry_point"] == "server/main.py"
    config = server["mcp_config"]
    assert set(config) <= {"command", "args", "env", "platform_overrides"}
    assert config["args"] == ["${__dirname}/server/main.py"]
    assert config["env"]["PYTHONPATH"] == "${__dirname}/server/lib"
    # The entry point that mcpb.build copies to server/main.py runs etrade-mcp's own main().
    entry = ast.parse((HERE / "server_main.py").read_text(encoding="utf-8"))
    imports = [node for node in entry.body if isinstance(node, ast.ImportFrom)]
    assert [(node.module, [a.name for a in node.names]) for node in imports] == [("mcp_proxy.main", ["main"])]


def test_the_socket_comes_from_the_user_configuration() -> None:
    rendered = manifest()
    env = rendered["server"]["mcp_config"]["env"]
    references = {m for value in env.values() for m in re.findall(r"\$\{user_config\.(\w+)\}", value)}
    assert env[SOCKET_ENV] == "${user_config.socket}"
    assert references <= set(rendered["user_config"])
    for field in rendered["user_config"].values():
        assert {"type", "title", "description"} <= set(field)
        assert field["type"] in USER_CONFIG_TYPES
        assert not field.get("sensitive", False)  # a socket path is no secret; nothing secret is asked


def test_an_empty_socket_setting_means_the_default_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host substitutes the setting's default (empty) when the user leaves it blank."""
    assert manifest()["user_config"]["socket"]["default"] == ""
    monkeypatch.setenv(SOCKET_ENV, "")
    assert socket_path() == default_socket_path()
