"""The unit layer's rule, enforced: no test here starts a process or opens a connection or a
listening socket (an event loop's internal socketpair is allowed). A test that needs either
belongs in tests/rpc or tests/e2e."""

from __future__ import annotations

import socket
import subprocess
from typing import Any, NoReturn

import pytest


def _refuse(what: str) -> Any:
    def refused(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError(f"a unit test {what}: move it to tests/rpc or tests/e2e")

    return refused


@pytest.fixture(autouse=True)
def no_processes_no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse("started a process"))
    monkeypatch.setattr(socket.socket, "connect", _refuse("opened a connection"))
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse("opened a connection"))
    monkeypatch.setattr(socket.socket, "bind", _refuse("bound a socket"))
