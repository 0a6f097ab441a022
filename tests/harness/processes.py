"""The whole etrade-mcp system running locally on the emulator, as real child processes.

The end-to-end tests' harness, also used by ``make demo`` (emulator/demo.py, which runs from a
checkout and is left out of the wheel for that reason) and the benchmarks: start the emulator and
the daemon, log in the way a human does (open the authorize page, read the code), run ``etradectl``.

Synchronisation is by events, not sleeps: a reader thread drains each child's stderr into a list
and wakes waiters when a line matching what they wait for arrives (bounded by a timeout).
"""

from __future__ import annotations

import html
import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
_VERIFIER = re.compile(r'<code id="verifier">([^<]+)</code>')


def read_verifier(authorize_url: str, *, timeout: float = 10.0) -> str:
    """Open the emulator's authorize page as a browser would and read the code it shows."""
    with urllib.request.urlopen(authorize_url, timeout=timeout) as response:
        page = response.read().decode("utf-8")
    match = _VERIFIER.search(page)
    if match is None:
        raise AssertionError(f"no verification code on the authorize page: {page[:300]!r}")
    return html.unescape(match.group(1)).strip()


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment isolated in ``home``: no user config, keyring or runtime dir leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETRADE_", "XDG_"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_RUNTIME_DIR=str(home / "run"),
        PYTHONUNBUFFERED="1",
        NO_COLOR="1",
        # Tests and the demo must not pop up login reminders on the developer's desktop.
        ETRADE_DESKTOP_NOTIFICATIONS="false",
    )
    env.update(extra)
    return env


class Proc:
    """A child process whose stderr is collected line by line."""

    def __init__(self, args: Sequence[str], env: dict[str, str], *, stdout: int | None = subprocess.PIPE) -> None:
        self.args = list(args)
        self.popen = subprocess.Popen(
            self.args, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, text=True
        )
        self.stderr_lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            with self._changed:
                self.stderr_lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for_stderr(self, pattern: str, timeout: float = 30.0, *, after: int = 0) -> str:
        """The first stderr line from index ``after`` on that matches (``mark()`` gives the index)."""
        regex = re.compile(pattern)
        with self._changed:
            ok = self._changed.wait_for(
                lambda: any(regex.search(x) for x in self.stderr_lines[after:]) or self.popen.poll() is not None,
                timeout,
            )
            match = next((x for x in self.stderr_lines[after:] if regex.search(x)), None)
        if not ok or match is None:
            raise AssertionError(f"{self.args[:3]} never logged {pattern!r}; stderr:\n" + "\n".join(self.stderr_lines))
        return match

    def mark(self) -> int:
        """How many stderr lines have arrived so far: pass it as ``after`` to wait for new ones."""
        with self._changed:
            return len(self.stderr_lines)

    def read_stdout_line(self, timeout: float = 30.0) -> str:
        assert self.popen.stdout is not None
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(self.popen.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if not result or not result[0]:
            raise AssertionError(f"{self.args[:3]} printed nothing on stdout; stderr:\n" + "\n".join(self.stderr_lines))
        return result[0].strip()

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait for the exit; returns the exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        code = self.popen.wait(timeout)
        self._close_pipes(timeout)
        return code

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for an exit already under way (no signal sent); returns the exit status."""
        code = self.popen.wait(timeout)
        self._close_pipes(timeout)
        return code

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(30)
        self._close_pipes(30)

    def _close_pipes(self, timeout: float) -> None:
        self._reader.join(timeout)
        for pipe in (self.popen.stdout, self.popen.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()

    @property
    def stderr_text(self) -> str:
        return "\n".join(self.stderr_lines)


def start_emulator(env: dict[str, str], *extra: str) -> tuple[Proc, str]:
    """``python -m emulator`` on a free port (no latency, no rate limits unless ``extra`` says so)."""
    args = ["--latency-ms", "0", "--no-rate-limits"] if not extra else list(extra)
    proc = Proc([sys.executable, "-m", "emulator", "--port", "0", *args], env)
    url = proc.read_stdout_line()
    match = re.search(r"http://127\.0\.0\.1:\d+", url)
    if match is None:
        proc.kill()
        raise AssertionError(f"the emulator printed {url!r}, not its URL")
    return proc, match.group(0)


def start_daemon(env: dict[str, str], socket: Path, emulator_url: str, *extra: str) -> Proc:
    args = [sys.executable, "-m", "daemon", "--environment", "emulator", "--emulator-url", emulator_url]
    proc = Proc([*args, "--socket", str(socket), *extra], env, stdout=subprocess.DEVNULL)
    proc.wait_for_stderr(r"server: listening on")
    return proc


@dataclass
class CtlResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def etradectl(
    env: dict[str, str], socket: Path, *args: str, timeout: float = 60.0, input: str | None = None
) -> CtlResult:
    """Run etradectl; ``input`` is its stdin (codes go there, never into argv)."""
    result = subprocess.run(
        [sys.executable, "-m", "cli", "--socket", str(socket), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        **({"stdin": subprocess.DEVNULL} if input is None else {"input": input}),
    )
    return CtlResult(result.returncode, result.stdout, result.stderr)


def login_with_etradectl(env: dict[str, str], socket: Path) -> None:
    """The scripted login a human would do: URL, the authorize page's code, then the verifier."""
    started = etradectl(env, socket, "--json", "auth", "login", "--url-only")
    assert started.code == 0, started.stderr
    verifier = read_verifier(started.json()["authorize_url"])
    finished = etradectl(env, socket, "auth", "login", "--finish", input=verifier + "\n")
    assert finished.code == 0, finished.stderr


@dataclass
class System:
    """Emulator + daemon as separate processes, isolated under one home directory."""

    home: Path
    env: dict[str, str]
    socket: Path
    emulator: Proc
    emulator_url: str
    daemon: Proc

    def ctl(self, *args: str) -> CtlResult:
        return etradectl(self.env, self.socket, *args)

    def admin(self, method: str, path: str, body: object = None, *, timeout: float = 30.0) -> Any:
        """A call to the emulator's admin interface (``/_emulator``), JSON in and out."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(f"{self.emulator_url}/_emulator{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode("utf-8"))

    def restart_daemon(self, *daemon_args: str) -> Proc:
        """Start a new daemon on the same socket and state (after the old one stopped or was killed)."""
        self.daemon = start_daemon(self.env, self.socket, self.emulator_url, *daemon_args)
        return self.daemon


@contextmanager
def running_system(
    home: Path, *daemon_args: str, env_extra: dict[str, str] | None = None, start: str | None = None
) -> Iterator[System]:
    """Emulator and daemon as processes; ``start``: the emulator clock's first instant (ISO 8601), else now."""
    env = child_env(home, **(env_extra or {}))
    socket = home / "sock" / "broker.sock"
    emulator, url = start_emulator(env, *(["--latency-ms", "0", "--no-rate-limits", "--start", start] if start else []))
    daemon: Proc | None = None
    system: System | None = None
    try:
        daemon = start_daemon(env, socket, url, *daemon_args)
        system = System(home, env, socket, emulator, url, daemon)
        yield system
    finally:
        if daemon is not None:
            daemon.kill()
        if system is not None and system.daemon is not daemon:
            system.daemon.kill()
        emulator.kill()
