"""The configuration reference (docs/configuration.md), generated from ``daemon.settings.describe()``.

``python -m cli.config_reference --write`` (``make docs``) rewrites the table between the markers
in docs/configuration.md; a test fails when the file and the code disagree, so a new setting
cannot ship undocumented.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

BEGIN = "<!-- BEGIN GENERATED: settings (python -m cli.config_reference --write) -->"
END = "<!-- END GENERATED: settings -->"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def _literal(default: str) -> str:
    if default in ("True", "False"):
        return f"`{default.lower()}`"
    return f"`{default}`" if default else "—"


def markdown_table() -> str:
    """One row per setting: TOML key, environment variable, default, meaning."""
    from daemon.settings import Settings, describe

    in_toml = {f.name: f.metadata.get("toml", True) for f in dataclasses.fields(Settings)}
    rows = [
        "| setting (config.toml) | environment variable | default | meaning |",
        "|---|---|---|---|",
    ]
    for name, env, default, doc in describe():
        key = f"`{name}`" if in_toml[name] else f"— (`{name}`: environment only)"
        variable = f"`{env}`" if env else "—"
        meaning = doc.replace("|", "\\|")
        rows.append(f"| {key} | {variable} | {_literal(default)} | {meaning} |")
    return "\n".join(rows) + "\n"


def render(document: str) -> str:
    """``document`` with the generated block replaced by the current table."""
    start, end = document.index(BEGIN) + len(BEGIN), document.index(END)
    return document[:start] + "\n" + markdown_table() + document[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite the table in {DOCS}")
    args = parser.parse_args(argv)
    if not args.write:
        sys.stdout.write(markdown_table())
        return 0
    text = DOCS.read_text("utf-8")
    updated = render(text)
    if updated != text:
        DOCS.write_text(updated, "utf-8")
        print(f"updated {DOCS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
