"""The daemon tells systemd when it is ready and when it stops (Type=notify), over a real datagram socket."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from daemon.host import sd_notify
from tests.harness.processes import Proc, child_env, start_emulator


def test_ready_after_the_socket_is_bound_then_stopping_on_sigterm(short_dir: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        address = short_dir / "notify"
        systemd.bind(str(address))
        systemd.settimeout(30)
        env = child_env(short_dir, NOTIFY_SOCKET=str(address))
        emulator, url = start_emulator(env)
        broker_socket = short_dir / "sock" / "broker.sock"
        daemon = Proc(
            [
                sys.executable,
                "-m",
                "daemon",
                "--environment",
                "emulator",
                "--emulator-url",
                url,
                "--socket",
                str(broker_socket),
            ],
            env,
        )
        try:
            ready = systemd.recv(4096).decode()
            assert ready.splitlines()[0] == "READY=1"
            assert f"STATUS=listening on {broker_socket}" in ready
            assert broker_socket.exists()  # ready means clients can connect
            daemon.popen.send_signal(15)
            assert systemd.recv(4096).decode() == "STOPPING=1"
            assert daemon.popen.wait(30) == 0  # one SIGTERM, as systemd sends
        finally:
            daemon.kill()
            emulator.kill()


def test_abstract_addresses_and_no_systemd_at_all() -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind("\0etrade-mcp-test-notify")
        systemd.settimeout(10)
        assert sd_notify.notify("READY=1", environ={"NOTIFY_SOCKET": "@etrade-mcp-test-notify"})
        assert systemd.recv(64) == b"READY=1"
    assert sd_notify.notify("READY=1", environ={}) is False  # not under systemd: nothing to do
    assert sd_notify.notify("READY=1", environ={"NOTIFY_SOCKET": "/nonexistent/notify"}) is False
