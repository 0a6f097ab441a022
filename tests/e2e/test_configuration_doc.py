"""docs/configuration.md agrees with the code: the generated table, and every ETRADE_* variable."""

from __future__ import annotations

import re

from cli.config_reference import BEGIN, DOCS, END, render
from tests.harness.processes import ROOT


def test_the_settings_table_is_the_one_the_code_generates() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert BEGIN in text and END in text
    assert render(text) == text, "docs/configuration.md is out of date: run `make docs`"


def test_every_etrade_variable_used_in_the_code_is_documented() -> None:
    used: set[str] = set()
    for folder in ("daemon", "cli", "mcp_proxy"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(re.findall(r"\bETRADE_[A-Z_]*[A-Z]\b", path.read_text(encoding="utf-8")))
    documented = set(re.findall(r"`(ETRADE_[A-Z_]+)`", DOCS.read_text(encoding="utf-8")))
    assert used, "the scan found no variables at all"
    assert used - documented == set()
