"""etradectl's manners: examples in every --help, a light start, NO_COLOR, shell completion."""

from __future__ import annotations

import argparse
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.main import build_parser
from tests.harness.processes import ROOT, child_env


def all_parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield " ".join(("etradectl", *path)), parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, child in action.choices.items():
                if id(child) not in seen:  # aliases share the parser
                    seen.add(id(child))
                    yield from all_parsers(child, (*path, name))


def test_every_command_and_subcommand_has_examples_in_its_help() -> None:
    parsers = dict(all_parsers(build_parser()))
    assert {"etradectl doctor", "etradectl service install", "etradectl mcp config", "etradectl completion"} <= set(
        parsers
    )
    missing = [name for name, parser in parsers.items() if "examples:\n  etradectl" not in parser.format_help()]
    assert missing == []
    for name, parser in parsers.items():
        assert parser.description, f"{name} has no description"


def test_help_starts_without_grpc_the_mcp_sdk_or_any_heavy_library() -> None:
    probe = "import sys\nfrom cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\nprint('\\n'.join(sys.modules), file=sys.stderr)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT, check=True
    )
    loaded = {name.split(".")[0] for name in result.stderr.split()}
    assert "examples:" in result.stdout
    assert not loaded & {"grpc", "mcp", "rauth", "requests", "keyring", "apscheduler", "shtab", "google", "emulator"}


def run_on_a_terminal(env: dict[str, str], *args: str) -> bytes:
    """Run etradectl with stderr on a pseudo-terminal (colour is only for terminals); return it."""
    main, secondary = pty.openpty()
    try:
        process = subprocess.run(
            [sys.executable, "-m", "cli", *args],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=secondary,
            timeout=60,
        )
        assert process.returncode != 0
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(main)


def test_errors_are_coloured_on_a_terminal_unless_no_color_is_set(tmp_path: Path) -> None:
    env = child_env(tmp_path)
    env.pop("NO_COLOR")
    coloured = run_on_a_terminal(env, "--socket", str(tmp_path / "none.sock"), "status")
    assert b"\x1b[31;1merror\x1b[0m: the broker daemon is not running" in coloured
    plain = run_on_a_terminal({**env, "NO_COLOR": "1"}, "--socket", str(tmp_path / "none.sock"), "status")
    assert b"\x1b[" not in plain
    assert plain.startswith(b"error: the broker daemon is not running")


def test_bash_completion_completes_commands_subcommands_and_choices(tmp_path: Path) -> None:
    script = subprocess.run(
        [sys.executable, "-m", "cli", "completion", "bash"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    ).stdout
    (tmp_path / "etradectl.bash").write_text(script)

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        program = (
            f"source {tmp_path / 'etradectl.bash'}\n"
            f"COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}\n"
            "_shtab_etradectl\nprintf '%s\\n' \"${COMPREPLY[@]}\""
        )
        return subprocess.run(
            ["bash", "-c", program], capture_output=True, text=True, timeout=60, check=True
        ).stdout.split()

    assert complete("etradectl", "doc") == ["doctor"]
    assert complete("etradectl", "service", "un") == ["uninstall"]
    assert complete("etradectl", "mcp", "config", "--client", "c") == ["claude-desktop", "claude-code", "cursor"]


@pytest.mark.parametrize("shell", ["zsh", "tcsh"])
def test_completion_scripts_for_other_shells_name_every_command(shell: str) -> None:
    script = subprocess.run(
        [sys.executable, "-m", "cli", "completion", shell],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    ).stdout
    for command in ("status", "doctor", "service", "mcp", "quote", "completion"):
        assert command in script
