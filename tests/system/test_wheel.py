"""A clean install: the wheel built from this checkout, installed with its dependencies into a fresh
virtual environment, starts all three programs without the checkout and without test code.

It proves the layout the project chose (plain top-level packages, no ``etrade_mcp.*`` root; see
docs/architecture.md): everything the entry points import is in the wheel, and nothing test-only is.
pip's cache keeps the dependency downloads to the first run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from broker_client import VERSION
from tests.harness.processes import ROOT

#: Building, creating the venv and installing from pip's cache take ~30 s on two busy cores.
INSTALL_TIMEOUT = 300

PROGRAMS = ("etrade-daemon", "etrade-mcp", "etradectl", "etrade-emulator")


@dataclass
class Installed:
    wheel: Path
    venv: Path
    home: Path

    def run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        # Outside the checkout and with no PYTHONPATH: only what the wheel installed can be imported.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ETRADE_", "VIRTUAL_ENV"))}
        env.update(HOME=str(self.home), NO_COLOR="1")
        return subprocess.run(
            [str(self.venv / "bin" / program), *args],
            cwd=self.home,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )


def _pip(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    work = tmp_path_factory.mktemp("wheel")
    _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(work / "dist"), str(ROOT))
    (wheel,) = (work / "dist").glob("etrade_mcp-*.whl")
    venv = work / "venv"
    # No pip inside the new venv: the test's pip installs into it (--python), which saves ~5 s.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    _pip("--python", str(venv / "bin" / "python"), "install", "--quiet", str(wheel))
    home = work / "home"
    home.mkdir()
    yield Installed(wheel, venv, home)


def test_the_wheel_holds_the_product_and_nothing_test_only(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as archive:
        names = archive.namelist()
    top = {name.split("/", 1)[0] for name in names if "/" in name and ".dist-info/" not in name}
    assert top == {"protos", "broker_client", "daemon", "mcp_proxy", "cli", "emulator", f"etrade_mcp-{VERSION}.data"}
    assert not [n for n in names if n.startswith(("tests/", "bench/", "mcpb/"))]
    assert "emulator/demo.py" not in names
    assert not [n for n in names if "local_system" in n or "conftest" in n]


@pytest.mark.parametrize("program", PROGRAMS)
def test_every_entry_point_starts_from_the_fresh_venv(installed: Installed, program: str) -> None:
    result = installed.run(program, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout
    assert "Traceback" not in result.stderr


def test_etradectl_reports_the_release(installed: Installed) -> None:
    result = installed.run("etradectl", "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"etradectl {VERSION}"


def test_the_programs_run_the_installed_code_not_the_checkout(installed: Installed) -> None:
    probe = "import broker_client, daemon.main, mcp_proxy.main, cli.main; print(daemon.main.__file__)"
    result = installed.run("python", "-c", probe)
    assert result.returncode == 0, result.stderr
    location = Path(result.stdout.strip()).resolve()
    assert location.is_relative_to(installed.venv.resolve())
    assert not location.is_relative_to(ROOT)
