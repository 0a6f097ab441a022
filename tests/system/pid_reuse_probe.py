"""Run as root inside a new pid and mount namespace (``unshare --pid --fork --mount --mount-proc``):
does an identity token outlive its process when the daemon cannot read other users' ``/proc``?

The protected unit sets ``ProtectProc=invisible``, which is ``hidepid=invisible``: the service user
cannot read ``/proc/<pid>/stat`` of a client of another uid, so a token is issued without the
process's start time, and "is it still the same process" falls back to "does some process have this
pid". Here: a root process is issued a token by a TokenBook running as ``nobody``; it exits; its pid
is handed to a new root process (``ns_last_pid``); the book is asked again.

Prints one JSON object: {"start_seen": bool, "pid_reused": bool, "resolved_after_reuse": bool}.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys

BOOK = """
import os, sys
from daemon.rpc import peercred
from daemon.rpc.authority import TokenBook
book = TokenBook()
for line in sys.stdin:
    verb, arg = line.split()
    if verb == "issue":
        pid = int(arg)
        token = book.issue(peercred.PeerCredentials(uid=0, gid=0, pid=pid))
        print(token, int(peercred.process_start(pid) is not None), flush=True)
    else:
        print(int(book.resolve(arg) is not None), flush=True)
"""


def main() -> dict[str, bool]:
    subprocess.run(["mount", "-o", "remount,hidepid=invisible", "/proc"], check=True)
    nobody = pwd.getpwnam("nobody")

    def drop() -> None:
        os.setgid(nobody.pw_gid)
        os.setgroups([])
        os.setuid(nobody.pw_uid)

    book = subprocess.Popen(
        [sys.executable, "-c", BOOK],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=drop,
    )
    assert book.stdin is not None and book.stdout is not None

    def ask(line: str) -> str:
        assert book.stdin is not None and book.stdout is not None
        book.stdin.write(line + "\n")
        book.stdin.flush()
        return book.stdout.readline().strip()

    victim = subprocess.Popen(["sleep", "60"])
    token, start_seen = ask(f"issue {victim.pid}").split()
    victim.kill()
    victim.wait()
    with open("/proc/sys/kernel/ns_last_pid", "w") as fh:
        fh.write(str(victim.pid - 1))
    successor = subprocess.Popen(["sleep", "60"])
    try:
        resolved = ask(f"resolve {token}") == "1"
        return {
            "start_seen": start_seen == "1",
            "pid_reused": successor.pid == victim.pid,
            "resolved_after_reuse": resolved,
        }
    finally:
        successor.kill()
        successor.wait()
        book.stdin.close()
        book.wait()


if __name__ == "__main__":
    print(json.dumps(main()))
