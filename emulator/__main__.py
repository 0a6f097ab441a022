"""``python -m emulator`` / ``etrade-emulator``: run the E*TRADE emulator in the foreground.

Prints one line, the base URL, to stdout; logs to stderr; exits 0 on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from datetime import datetime
from types import FrameType

from emulator.app import DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET, LOOPBACK, Emulator
from emulator.limits import DEFAULT_RATE_LIMITS, parse_latency


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="etrade-emulator", description="A local E*TRADE v1 API + OAuth 1.0a emulator (127.0.0.1 only)."
    )
    parser.add_argument("--host", default=LOOPBACK, help="must be 127.0.0.1 (anything else is refused)")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one (default)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the book and the quote walk (default 0)")
    parser.add_argument(
        "--latency-ms", default="80-150", help="per-response latency: 'lo-hi' or 'N' milliseconds (default 80-150)"
    )
    parser.add_argument("--no-rate-limits", action="store_true", help="switch E*TRADE's per-module limits off")
    parser.add_argument("--consumer-key", default=DEFAULT_CONSUMER_KEY, help="the accepted consumer key")
    parser.add_argument("--consumer-secret", default=DEFAULT_CONSUMER_SECRET, help="its secret")
    parser.add_argument("--start", help="initial emulator clock, ISO 8601 with offset (default: now)")
    parser.add_argument("--frozen", action="store_true", help="start with the emulator clock frozen")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request (method, path, status)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        latency = parse_latency(args.latency_ms)
        start = datetime.fromisoformat(args.start) if args.start else None
        emulator = Emulator(
            seed=args.seed,
            port=args.port,
            host=args.host,
            latency_ms=latency,
            rate_limits=None if args.no_rate_limits else DEFAULT_RATE_LIMITS,
            consumer_key=args.consumer_key,
            consumer_secret=args.consumer_secret,
            start=start,
            frozen=args.frozen,
        )
        emulator.start()
    except (ValueError, OSError) as exc:
        parser.exit(2, f"etrade-emulator: error: {exc}\n")

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    print(emulator.base_url, flush=True)
    try:
        while not stop.wait(timeout=1.0):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
