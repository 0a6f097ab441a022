"""Every ```console block in the documentation is run against a real emulator and daemon.

Each `$ command` line must be one of our executables and exit 0, or the status written after it
as `# exit N`. Output shown under a command is illustrative (prices move) and not compared.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.harness.processes import ROOT, login_with_etradectl, running_system

DOCUMENTS = [ROOT / "README.md", ROOT / "systemd" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent
FENCE = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)
EXPECTED_EXIT = re.compile(r"#\s*exit\s+(\d+)\s*$")


@dataclass(frozen=True)
class Example:
    document: Path
    line: str
    argv: list[str]
    exit_status: int

    def __str__(self) -> str:
        return f"{self.document.relative_to(ROOT)}: {self.line}"


def examples() -> list[Example]:
    found = []
    for document in DOCUMENTS:
        for block in FENCE.findall(document.read_text(encoding="utf-8")):
            for line in block.splitlines():
                if not line.startswith("$ "):
                    continue
                command = line[2:]
                expected = EXPECTED_EXIT.search(command)
                argv = shlex.split(command, comments=True)
                found.append(Example(document, command, argv, int(expected.group(1)) if expected else 0))
    return found


def test_the_documentation_has_runnable_examples() -> None:
    found = examples()
    assert len(found) >= 8
    assert {e.document.name for e in found} >= {"README.md", "troubleshooting.md"}
    for example in found:
        assert example.argv[0] in ("etradectl", "etrade-daemon", "etrade-mcp"), str(example)
        if example.argv[0] != "etradectl":
            assert "--help" in example.argv, f"{example}: only --help of a long-running program can be run"


def test_every_console_example_runs_as_documented(short_dir: Path) -> None:
    failures = []
    with running_system(short_dir) as system:
        login_with_etradectl(system.env, system.socket)
        env = {**system.env, "ETRADE_MCP_SOCKET": str(system.socket), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        for example in examples():
            result = subprocess.run(
                example.argv,
                env=env,
                cwd=short_dir,
                capture_output=True,
                text=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
            )
            if result.returncode != example.exit_status:
                failures.append(
                    f"{example}\n  exit {result.returncode}, expected {example.exit_status}\n  {result.stderr}"
                )
    assert failures == [], "\n".join(failures)
