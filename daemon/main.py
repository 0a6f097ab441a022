"""``etrade-daemon``: the long-lived broker service. Runs in the foreground; never forks."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from broker_client import paths
from broker_client.errors import BrokerError
from daemon.host import protected
from daemon.log_redaction import AccountNumberFilter
from daemon.settings import ENVIRONMENTS, Settings, load_settings

if TYPE_CHECKING:
    from daemon.rpc.server import Access

log = logging.getLogger("daemon")

# sysexits.h EX_CONFIG: a start-up refusal that a restart cannot fix (systemd: RestartPreventExitStatus).
EXIT_CANNOT_START = 78

EPILOG = """examples:
  etrade-daemon --environment emulator          try everything against the built-in E*TRADE emulator
  etrade-daemon --environment production        your real account (read-only unless configured)
  ETRADE_READ_ONLY=false etrade-daemon          allow order previews and confirmed placements
  etrade-daemon --system                        protected mode, as the service user (systemd unit)

Settings come from flags, then ETRADE_* environment variables, then
$XDG_CONFIG_HOME/etrade-mcp/config.toml, then defaults. Logs go to stderr.
Exit status: 0 after SIGTERM/SIGINT; 78 (EX_CONFIG) when it cannot start because of its
configuration or another running daemon (the reason is printed; the systemd unit does not
restart it then); 1 on a crash; 2 on bad usage.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="etrade-daemon",
        description="The etrade-mcp broker daemon: the only process that holds E*TRADE tokens.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--environment", choices=ENVIRONMENTS, help="which E*TRADE to talk to (default: sandbox)")
    parser.add_argument(
        "--socket", type=Path, help="unix socket path (default: $XDG_RUNTIME_DIR/etrade-mcp/broker.sock)"
    )
    parser.add_argument("--config", type=Path, help="config file (default: $XDG_CONFIG_HOME/etrade-mcp/config.toml)")
    parser.add_argument("--state-dir", type=Path, help="journal, audit log and file secret store location")
    parser.add_argument("--emulator-url", help="with --environment emulator: use this running emulator")
    parser.add_argument(
        "--read-only", action=argparse.BooleanOptionalAction, default=None, help="refuse all order activity"
    )
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="default: INFO")
    parser.add_argument(
        "--system",
        action="store_true",
        help="protected mode: run as the service user, with directories from systemd's STATE_DIRECTORY, "
        "RUNTIME_DIRECTORY and CONFIGURATION_DIRECTORY, and operator authority only for root and itself",
    )
    return parser


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Log to stderr (the journal under systemd, a file under launchd) with account numbers masked."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(AccountNumberFilter())
    logging.basicConfig(level=level, handlers=[handler])
    # urllib3 logs request lines at DEBUG, and the access-token request line carries the verifier.
    # apscheduler.scheduler logs every re-armed renewal at INFO; daemon.scheduler says what matters.
    for noisy in ("urllib3", "requests_oauthlib", "oauthlib", "apscheduler.executors", "apscheduler.scheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


#: The soft descriptor limit asked for where the hard limit is unlimited (macOS allows no more
#: than kern.maxfilesperproc, and refuses RLIM_INFINITY for descriptors).
DESCRIPTORS_WHEN_UNLIMITED = 65536


def raise_descriptor_limit() -> None:
    """Raise the soft RLIMIT_NOFILE to the hard limit.

    Every client connection holds a descriptor; under a service manager's default soft limit (1024
    under systemd) one local client holding idle connections would leave the operator no way in.
    """
    try:
        import resource
    except ImportError:  # not a POSIX system
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = DESCRIPTORS_WHEN_UNLIMITED if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("server: cannot raise the descriptor limit from %d to %d: %s", soft, target, exc)
    log.info("server: up to %s open descriptors (RLIMIT_NOFILE)", soft)


async def run(settings: Settings, config_path: Path, access: Access | None = None) -> None:
    from daemon.app import build_app
    from daemon.rpc.server import serve

    raise_descriptor_limit()
    app = await build_app(settings, config_path=config_path)
    try:
        await serve(app, settings.resolved_socket(), access=access)
    except BaseException:
        await app.close()
        raise


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.system:
        return main_system(args, parser)
    flags: dict[str, Any] = {
        "environment": args.environment,
        "socket": args.socket,
        "state_dir": args.state_dir,
        "emulator_url": args.emulator_url,
        "read_only": args.read_only,
        "log_level": args.log_level,
    }
    try:
        settings = load_settings(flags, config_path=args.config)
    except BrokerError as exc:
        print(f"error: {exc.message}\n\nhint: {exc.hint}", file=sys.stderr)
        return EXIT_CANNOT_START
    configure_logging(settings.log_level)
    try:
        asyncio.run(run(settings, args.config or paths.config_file()))
    except BrokerError as exc:
        log.error("%s", exc.message)
        print(f"error: {exc.message}\n\nhint: {exc.hint}", file=sys.stderr)
        return EXIT_CANNOT_START
    except KeyboardInterrupt:
        pass
    return 0


def main_system(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Protected mode: everything from the service manager's directories (see daemon/host/protected.py)."""
    for name in ("socket", "config", "state_dir"):
        if getattr(args, name) is not None:
            parser.error(f"--system takes its directories from the service manager; drop --{name.replace('_', '-')}")
    from daemon.rpc.server import Access

    dirs = protected.system_dirs()
    flags: dict[str, Any] = {
        "environment": args.environment,
        "socket": dirs.socket,
        "state_dir": dirs.state,
        "secret_store": "file",
        # A code shown by spawning a notifier would sit in its argv, readable by every local user.
        "notify_codes": False,
        "emulator_url": args.emulator_url,
        "read_only": args.read_only,
        "log_level": args.log_level,
    }
    try:
        protected.check_configuration(dirs)
        environ, ignored = protected.filtered_environment(os.environ)
        settings = load_settings(flags, environ=environ, config_path=dirs.config_file)
        configure_logging(settings.log_level)
        for name in ignored:
            log.warning(
                "protected mode: ignoring %s from the environment; the consumer key and secret come only "
                "from the daemon's own secret store (`sudo etradectl auth setup`)",
                name,
            )
        protected.private_state(dirs)
        access = Access(protected=True, group=protected.clients_gid(settings.clients_group))
        asyncio.run(run(settings, dirs.watchlists_file, access))
    except BrokerError as exc:
        log.error("%s", exc.message)
        print(f"error: {exc.message}\n\nhint: {exc.hint}", file=sys.stderr)
        return EXIT_CANNOT_START
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
