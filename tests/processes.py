"""Real processes for end-to-end tests (the harness itself is emulator/local_system.py)."""

from emulator.local_system import (
    CtlResult,
    Proc,
    System,
    child_env,
    etradectl,
    login_with_etradectl,
    read_verifier,
    running_system,
    start_daemon,
    start_emulator,
)

__all__ = [
    "CtlResult",
    "Proc",
    "System",
    "child_env",
    "etradectl",
    "login_with_etradectl",
    "read_verifier",
    "running_system",
    "start_daemon",
    "start_emulator",
]
