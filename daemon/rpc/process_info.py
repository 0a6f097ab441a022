"""Facts about the running daemon process for status displays (GetStatusResponse fields 30-39)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from daemon.app import BrokerApp
from protos.broker.v1 import session_pb2


def executable() -> str:
    """The absolute path of the running ``etrade-daemon`` (or of Python, under ``python -m daemon``)."""
    argv0 = sys.argv[0] if sys.argv else ""
    if Path(argv0).name == "etrade-daemon":
        return str(Path(argv0).absolute())
    return sys.executable


def fill_status(response: session_pb2.GetStatusResponse, app: BrokerApp) -> None:
    response.pid = os.getpid()
    response.executable = executable()
    response.socket_path = str(app.settings.resolved_socket().absolute())
