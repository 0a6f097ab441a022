"""Where this installation of etrade-mcp lives: its executables and its shipped files.

Service units and MCP client configurations name executables by absolute path (a service
manager or Claude Desktop has no useful PATH), so we take the ones installed next to the Python
that runs etradectl — the same virtual environment — and fall back to PATH.
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path

from broker_client.errors import ErrorCode, InvalidRequest

DAEMON = "etrade-daemon"
PROXY = "etrade-mcp"


def find_executable(name: str) -> Path:
    """The absolute path of ``name`` from this environment (not resolved: a venv's bin is the point)."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside.absolute()
    found = shutil.which(name)
    if found:
        return Path(found).absolute()
    raise InvalidRequest(
        ErrorCode.INVALID_ARGUMENT,
        f"cannot find the {name} executable (looked in {beside.parent} and on PATH)",
        hint="install etrade-mcp into a virtual environment (`pip install etrade-mcp`) and run this "
        "environment's etradectl",
    )


def shared_dir(name: str) -> Path:
    """A folder shipped with etrade-mcp: the source checkout's ``name/``, or the wheel's copy under
    ``<prefix>/share/etrade-mcp/name`` (pyproject's shared-data)."""
    checkout = Path(__file__).resolve().parent.parent / name
    if checkout.is_dir():
        return checkout
    installed = Path(sysconfig.get_path("data")) / "share" / "etrade-mcp" / name
    if installed.is_dir():
        return installed
    raise InvalidRequest(
        ErrorCode.INVALID_ARGUMENT,
        f"this installation of etrade-mcp has no {name}/ folder (looked at {checkout} and {installed})",
        hint="reinstall etrade-mcp",
    )
