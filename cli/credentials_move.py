"""Moving the consumer key and secret from the desktop user's store to the protected daemon's.

``sudo etradectl service install --system`` runs as root, but the pair lives in the desktop user's
keyring (reachable only on their session bus) or in their 0600 ``secrets.json``. So the reading and
the forgetting run in a forked child that has become that user (no exec); the secrets travel
over a pipe, never in argv, the environment or a log. Root then
writes them into the service user's 0600 file in the state directory.

Invariant: the user's copy is deleted only after the service's copy is written and read back.
The user's access tokens go too: the human logs in again with ``sudo etradectl auth login``.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cli.main import Context
    from cli.system_service import SystemInstall
    from daemon.secret_store import SecretStore

ENVIRONMENTS = ("production", "sandbox")
SECRETS_FILE = "secrets.json"


def _user_environment(account: pwd.struct_passwd) -> dict[str, str]:
    """The desktop user's own environment, as far as it can be rebuilt: home, runtime dir, session bus."""
    env = {
        "HOME": account.pw_dir,
        "USER": account.pw_name,
        "LOGNAME": account.pw_name,
        "PATH": "/usr/local/bin:/usr/bin:/bin",
    }
    runtime = Path(f"/run/user/{account.pw_uid}")
    if runtime.is_dir():
        env["XDG_RUNTIME_DIR"] = str(runtime)
        if (runtime / "bus").exists():
            env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={runtime / 'bus'}"
    return env


@dataclass(frozen=True)
class ChildResult:
    returncode: int
    stdout: str
    stderr: str


# The child runs as the desktop user, whose files (keyring configuration, secret store) an attacker
# with that user's shell may control: root reads a bounded answer within a bounded time, and checks it.
MAX_ANSWER = 64 * 1024
CHILD_TIMEOUT = 120.0


def _collect(pid: int, out: int, err: int, timeout: float) -> tuple[str, str, bool]:
    """Both pipes' text, up to MAX_ANSWER each, and whether the child finished in time (else it is killed)."""
    import selectors
    import time

    buffers = {out: bytearray(), err: bytearray()}
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        for fd in buffers:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.kill(pid, 9)
                break
            for key, _ in selector.select(remaining):
                fd = int(key.fd)
                chunk = os.read(fd, 65536)
                if not chunk or len(buffers[fd]) + len(chunk) > MAX_ANSWER:
                    selector.unregister(fd)
                    if chunk:
                        os.kill(pid, 9)
                    continue
                buffers[fd] += chunk
    for fd in buffers:
        os.close(fd)
    finished = time.monotonic() < deadline
    return buffers[out].decode("utf-8", "replace"), buffers[err].decode("utf-8", "replace"), finished


def _as_user(user: str, action: str, payload: str = "") -> ChildResult:
    """Run ``action`` in a forked child that has become ``user``: no exec, so nothing in any argv,
    and the child needs no access to this installation's interpreter (it may live in root's home)."""
    import daemon.secret_store
    import daemon.settings  # noqa: F401

    account = pwd.getpwnam(user)
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() beside threads; the child only runs what is already imported.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.close(out_read)
            os.close(err_read)
            os.setgroups([])
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
            os.environ.clear()
            os.environ.update(_user_environment(account))
            os.chdir("/")
            code = _child(action, payload, out_write, err_write)
        finally:
            os._exit(code)
    os.close(out_write)
    os.close(err_write)
    stdout, stderr, finished = _collect(pid, out_read, err_read, CHILD_TIMEOUT)
    _, status = os.waitpid(pid, 0)
    if not finished:
        return ChildResult(1, "", f"no answer within {CHILD_TIMEOUT:.0f} s (a locked keyring waiting to be unlocked?)")
    return ChildResult(os.waitstatus_to_exitcode(status), stdout, stderr)


def service_secrets_path(install: SystemInstall) -> Path:
    return install.path(install.dirs.state) / SECRETS_FILE


def describe(choice: bool | None, install: SystemInstall) -> list[str]:
    """What a real run would do about the consumer pair (for --dry-run)."""
    who = install.desktop_user
    if not who or who == "root":
        return ["credentials: no desktop user (not run through sudo); nothing to move"]
    target = service_secrets_path(install)
    if choice is False:
        return [f"credentials: leave {who}'s consumer key and secret where they are (--no-move-credentials)"]
    verb = "move" if choice else "offer to move"
    return [
        f"credentials: {verb} {who}'s consumer key and secret into {target} "
        f"({install.user}, 0600) and delete them (and {who}'s tokens) from {who}'s keyring or secret file"
    ]


def _ask(ctx: Context, who: str) -> bool:
    if not sys.stdin.isatty():
        ctx.out.info(
            f"credentials: not moved (no terminal to ask on); pass --move-credentials to move {who}'s consumer pair"
        )
        return False
    sys.stderr.write(
        f"Move {who}'s E*TRADE consumer key and secret to the protected daemon, deleting them from "
        f"{who}'s keyring or secret file? [y/N] "
    )
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def offer(ctx: Context, choice: bool | None, install: SystemInstall) -> list[str]:
    """Ask (unless ``choice`` says), then move; returns what happened, one line each."""
    who = install.desktop_user
    if not who or who == "root":
        return ["credentials: no desktop user (not run through sudo); nothing to move"]
    if choice is False or (choice is None and not _ask(ctx, who)):
        return [f"credentials: left in {who}'s store"]
    return move(install)


def move(install: SystemInstall) -> list[str]:
    from daemon.secret_store import CONSUMER_KEY, CONSUMER_SECRET, FileSecretStore

    who = install.desktop_user
    assert who
    exported = _as_user(who, "export")
    if exported.returncode != 0:
        return [f"credentials: could not read {who}'s store: {_last_line(exported)}; nothing moved"]
    pairs = _valid_pairs(exported.stdout)
    if pairs is None:
        return [f"credentials: {who}'s store gave an answer that is not a consumer pair; nothing moved"]
    if not pairs:
        return [f"credentials: {who} has no consumer key and secret stored; nothing to move"]
    target = service_secrets_path(install)
    state = target.parent
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    uid, gid = pwd.getpwnam(install.user).pw_uid, grp.getgrnam(install.group).gr_gid
    os.chown(state, uid, gid)
    os.chmod(state, 0o700)
    for environment, pair in pairs.items():
        store = FileSecretStore(target, environment)
        store.set(CONSUMER_KEY, pair[CONSUMER_KEY])
        store.set(CONSUMER_SECRET, pair[CONSUMER_SECRET])
        if store.get(CONSUMER_KEY) != pair[CONSUMER_KEY] or store.get(CONSUMER_SECRET) != pair[CONSUMER_SECRET]:
            return [f"credentials: {target} did not read back; {who}'s copy is kept"]
    os.chown(target, uid, gid)
    os.chmod(target, 0o600)
    names = ", ".join(sorted(pairs))
    lines = [f"credentials: moved the consumer pair ({names}) into {target} ({install.user}, 0600)"]
    forgotten = _as_user(who, "forget", json.dumps(sorted(pairs)))
    if forgotten.returncode != 0:
        lines.append(
            f"credentials: could not delete them from {who}'s store ({_last_line(forgotten)}); delete them there "
            "yourself (`etradectl auth logout --forget-credentials` as that user, or the keyring's own tool)"
        )
    else:
        lines.append(f"credentials: deleted from {who}'s store, with {who}'s E*TRADE tokens")
    return lines


def _valid_pairs(answer: str) -> dict[str, dict[str, str]] | None:
    """The child's answer, if it is what ``_export`` writes: known environments, two short strings each."""
    from daemon.secret_store import CONSUMER_KEY, CONSUMER_SECRET

    try:
        document = json.loads(answer or "{}")
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    pairs: dict[str, dict[str, str]] = {}
    for environment, pair in document.items():
        if (
            environment not in ENVIRONMENTS
            or not isinstance(pair, dict)
            or set(pair) != {CONSUMER_KEY, CONSUMER_SECRET}
        ):
            return None
        values = [pair[CONSUMER_KEY], pair[CONSUMER_SECRET]]
        if not all(isinstance(v, str) and 0 < len(v) <= 512 and v.isprintable() for v in values):
            return None
        pairs[environment] = {CONSUMER_KEY: values[0], CONSUMER_SECRET: values[1]}
    return pairs


def _last_line(result: ChildResult) -> str:
    lines = (result.stderr or "").strip().splitlines()
    if not lines:
        return f"exit status {result.returncode}"
    # Printed on root's terminal: no control characters from the desktop user's side.
    return "".join(c for c in lines[-1] if c.isprintable())[:200]


def next_steps(install: SystemInstall) -> list[str]:
    who = install.desktop_user or "your desktop user"
    return [
        "",
        "next:",
        f"  1. {who} joins the group {install.group} at their next login (log out and in again, or `newgrp "
        f"{install.group}`)",
        "  2. stop the single-user daemon if it runs: `etradectl service uninstall` (as yourself)",
        "  3. log in to E*TRADE as the operator: `sudo etradectl auth login`",
        "  4. confirm orders with `sudo etradectl orders confirm ID`; `etradectl doctor` checks the set-up",
        f"  settings: {install.dirs.config_file} (root's; `sudo` to edit); socket: {install.dirs.socket}",
    ]


# --- the desktop user's side (run as that user, by the functions above) ----------------------


def _user_stores() -> list[tuple[str, SecretStore]]:
    from daemon.secret_store import open_secret_store
    from daemon.settings import load_settings

    settings = load_settings(environ=dict(os.environ))
    return [
        (environment, open_secret_store(settings.secret_store, environment, settings.resolved_state_dir()))
        for environment in ENVIRONMENTS
    ]


def _export() -> str:
    from daemon.secret_store import CONSUMER_KEY, CONSUMER_SECRET

    found: dict[str, dict[str, str]] = {}
    for environment, store in _user_stores():
        key, secret = store.get(CONSUMER_KEY), store.get(CONSUMER_SECRET)
        if key and secret:
            found[environment] = {CONSUMER_KEY: key, CONSUMER_SECRET: secret}
    return json.dumps(found)


def _forget(payload: str) -> str:
    from daemon.secret_store import ALL_NAMES

    environments = set(json.loads(payload or "[]"))
    for environment, store in _user_stores():
        if environment in environments:
            for name in ALL_NAMES:
                store.delete(name)
    return ""


def _child(action: str, payload: str, out: int, err: int) -> int:
    try:
        result = _export() if action == "export" else _forget(payload)
    except Exception as exc:  # reported to root's etradectl; never the secrets
        os.write(err, f"{type(exc).__name__}: {getattr(exc, 'message', None) or 'failed'}\n".encode())
        return 1
    os.write(out, result.encode("utf-8"))
    return 0
