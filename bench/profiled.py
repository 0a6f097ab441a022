"""Run ``python -m MODULE ARGS...`` under cProfile from SIGUSR1 on, so start-up is left out.

Usage: ``python -m bench.profiled OUT.prof MODULE [ARGS...]``. The statistics are written to
OUT.prof when the process exits normally (the proxy on stdin EOF, the daemon on SIGTERM).
"""

from __future__ import annotations

import atexit
import cProfile
import runpy
import signal
import sys


def main() -> None:
    out, module = sys.argv[1], sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    profiler = cProfile.Profile()
    signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())

    def dump() -> None:
        profiler.disable()
        profiler.dump_stats(out)

    atexit.register(dump)
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
