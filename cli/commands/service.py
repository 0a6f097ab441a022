"""``etradectl service install|uninstall|start|stop|restart|status|logs``: the daemon as a service."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cli import exit_codes
from cli.commands import add_command, whole_number

if TYPE_CHECKING:
    from cli.main import Context
    from cli.service_manager import Manager, Platform
    from cli.system_service import SystemInstall


def register(commands: Any) -> None:
    service = add_command(
        commands,
        "service",
        help="run etrade-daemon as a systemd user service (Linux) or launchd agent (macOS)",
        description="Install etrade-daemon as a background service that starts at login and restarts\n"
        "after a crash: a systemd user unit on Linux, a launchd agent on macOS. Units name the\n"
        "executables of this installation by absolute path. Installing twice changes nothing.",
        examples="  etradectl service install --dry-run     show the unit and the commands, change nothing\n"
        "  etradectl service install               write, enable and start it\n"
        "  etradectl service status\n"
        "  etradectl service logs -f               follow the daemon's log\n"
        "  etradectl service uninstall\n"
        "  sudo etradectl service install --system protected mode: the daemon as its own user (docs/safety.md)",
    )
    sub = service.add_subparsers(title="service commands", metavar="COMMAND")

    install = add_command(
        sub,
        "install",
        help="write the unit (or plist), enable it and start the daemon",
        description="Write ~/.config/systemd/user/etrade-daemon.service (Linux) or\n"
        "~/Library/LaunchAgents/org.etrade-mcp.daemon.plist (macOS) for this installation's\n"
        "etrade-daemon, then enable and start it. An unchanged unit is left alone; a changed one is\n"
        "rewritten and the daemon restarted. Settings come from the config file (see `etradectl config`).",
        examples="  etradectl service install --dry-run\n"
        "  etradectl service install --dry-run --platform macos   preview the launchd agent\n"
        "  etradectl service install\n"
        "  sudo etradectl service install --system --dry-run       protected mode: user, group, system unit",
    )
    install.add_argument("--dry-run", action="store_true", help="print what would be written and run; change nothing")
    install.add_argument(
        "--platform", choices=["linux", "macos"], help="with --dry-run: render for this platform (default: this one)"
    )
    _system_arguments(install)
    install.add_argument("--user-name", default=None, help="with --system: the service user (default: etrade-mcp)")
    install.add_argument(
        "--group",
        default=None,
        help="with --system: the clients' group, which may use the socket (default: etrade-mcp)",
    )
    moving = install.add_mutually_exclusive_group()
    moving.add_argument(
        "--move-credentials",
        dest="move_credentials",
        action="store_true",
        default=None,
        help="with --system: move your consumer key and secret to the service user without asking",
    )
    moving.add_argument(
        "--no-move-credentials",
        dest="move_credentials",
        action="store_false",
        help="with --system: leave your consumer key and secret where they are",
    )
    install.set_defaults(handler=run_install)

    uninstall = add_command(
        sub,
        "uninstall",
        help="stop the daemon and remove the unit (or plist)",
        description="Stop and disable the service and remove its file. Your settings, secrets and logs stay.",
        examples="  etradectl service uninstall --dry-run\n  etradectl service uninstall",
    )
    uninstall.add_argument("--dry-run", action="store_true", help="print what would be removed and run")
    _system_arguments(uninstall)
    uninstall.add_argument(
        "--purge", action="store_true", help="with --system: also delete the service's state (tokens, journal, audit)"
    )
    uninstall.set_defaults(handler=run_uninstall)

    for action, text in (
        ("start", "start the daemon service"),
        ("stop", "stop the daemon service (it stays installed)"),
        ("restart", "restart the daemon service (after an upgrade or a settings change)"),
    ):
        parser = add_command(
            sub,
            action,
            help=text,
            description=f"{text[0].upper()}{text[1:]} with systemctl --user (Linux) or launchctl (macOS).",
            examples=f"  etradectl service {action}\n  etradectl service {action} --dry-run",
        )
        parser.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
        parser.add_argument("--system", action="store_true", help="the protected-mode system service (needs sudo)")
        parser.set_defaults(handler=run_control, action=action)

    status = add_command(
        sub,
        "status",
        help="is the service installed and running, and does the daemon answer?",
        description="The service manager's view (state, pid, restarts) and whether the daemon answers on its\n"
        "socket. Exit status 0 when the daemon answers, 3 when it does not.",
        examples="  etradectl service status\n  etradectl --json service status",
    )
    status.add_argument("--system", action="store_true", help="the protected-mode system service")
    status.set_defaults(handler=run_status)

    logs = add_command(
        sub,
        "logs",
        help="show the daemon's log (journalctl on Linux, the log file on macOS)",
        description="Print the end of the daemon's log, or follow it with -f (Ctrl-C to stop).",
        examples="  etradectl service logs\n  etradectl service logs -n 200\n  etradectl service logs -f",
    )
    logs.add_argument("-n", "--lines", type=whole_number(1, 100_000), default=50, help="how many lines (default: 50)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("--system", action="store_true", help="the protected-mode system service's log")
    logs.set_defaults(handler=run_logs)

    service.set_defaults(handler=lambda ctx, args: _help(service))


def _system_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--system",
        action="store_true",
        help="protected mode: a system service running as its own user (needs sudo; see docs/safety.md)",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("/"),
        help="with --system: write files under this folder instead of / and run no service-manager command",
    )


async def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return exit_codes.USAGE


def _manager(ctx: Context, platform: Platform | None = None, *, system: bool = False) -> Manager:
    """This platform's manager (or ``platform``'s, for dry runs); ``--socket`` becomes the daemon's.
    With ``system``, protected mode's system service, whose client socket is the system one."""
    import os

    from broker_client import paths
    from cli.service_manager import current_platform, manager_for
    from cli.system_service import system_dirs, system_manager_for

    environ = dict(os.environ)
    if system:
        if ctx.socket is None:
            ctx.socket = system_dirs(platform or current_platform()).socket
        return system_manager_for(platform or current_platform(), environ=environ)
    if ctx.socket is not None:
        environ[paths.SOCKET_ENV] = str(ctx.socket.absolute())
    return manager_for(platform or current_platform(), environ=environ)


def _print_plan(ctx: Context, lines: list[str], document: dict[str, Any]) -> None:
    if ctx.out.json_mode:
        ctx.out.json(document)
    else:
        for line in lines:
            ctx.out.line(line)


async def run_install(ctx: Context, args: argparse.Namespace) -> int:
    from cli.service_manager import Write, daemon_executable, execute

    if args.system:
        return await run_system_install(ctx, args)
    if args.user_name or args.group or args.move_credentials is not None or args.root != Path("/"):
        ctx.out.error(
            "--user-name, --group, --root and --(no-)move-credentials only work with --system",
            "add --system for protected mode",
        )
        return exit_codes.USAGE
    if args.platform and not args.dry_run:
        ctx.out.error("--platform only works with --dry-run", "install on the machine that will run the daemon")
        return exit_codes.USAGE
    manager = _manager(ctx, args.platform)
    plan = manager.install_plan(daemon_executable())
    document: dict[str, Any] = {
        "platform": manager.platform,
        "path": str(manager.service_path()),
        "changed": plan.changed,
        "dry_run": args.dry_run,
    }
    if args.dry_run:
        [write] = [step for step in plan.steps if isinstance(step, Write)]
        document.update(content=write.content.decode("utf-8"), commands=plan.commands)
        _print_plan(ctx, ["dry run: nothing is written or run", *plan.describe()], document)
        return exit_codes.OK
    done = execute(plan, manager)
    notes = manager.after_install_notes()
    document.update(done=done, notes=notes)
    lines = [*done, "", "etrade-daemon is running as a service; check it with `etradectl status`."]
    lines.extend(f"\nnote: {note}" for note in notes)
    _print_plan(ctx, lines, document)
    return exit_codes.OK


async def run_uninstall(ctx: Context, args: argparse.Namespace) -> int:
    from cli.service_manager import execute

    if args.system:
        return await run_system_uninstall(ctx, args)
    manager = _manager(ctx)
    plan = manager.uninstall_plan()
    document: dict[str, Any] = {"platform": manager.platform, "path": str(manager.service_path())}
    if args.dry_run:
        document.update(dry_run=True, commands=plan.commands)
        _print_plan(ctx, ["dry run: nothing is removed or run", *plan.describe()], document)
        return exit_codes.OK
    if not manager.installed():
        document.update(dry_run=False, done=[])
        _print_plan(ctx, [f"not installed ({manager.service_path()}); nothing to do"], document)
        return exit_codes.OK
    done = execute(plan, manager)
    document.update(dry_run=False, done=done)
    _print_plan(ctx, done, document)
    return exit_codes.OK


def _system_install(args: argparse.Namespace) -> SystemInstall:
    import os

    from cli.service_manager import current_platform, daemon_executable
    from cli.system_service import CLIENTS_GROUP, SERVICE_USER, SystemInstall

    return SystemInstall(
        platform=getattr(args, "platform", None) or current_platform(),
        daemon=daemon_executable(),
        user=getattr(args, "user_name", None) or SERVICE_USER,
        group=getattr(args, "group", None) or CLIENTS_GROUP,
        desktop_user=os.environ.get("SUDO_USER") or None,
        root=args.root.absolute(),
    )


async def run_system_install(ctx: Context, args: argparse.Namespace) -> int:
    import os

    from cli import credentials_move
    from cli.system_service import execute_system, refuse_unsafe_code, require_root

    if args.platform and not args.dry_run:
        ctx.out.error("--platform only works with --dry-run", "install on the machine that will run the daemon")
        return exit_codes.USAGE
    install = _system_install(args)
    plan = install.install_plan()
    document: dict[str, Any] = {
        "mode": "protected",
        "platform": install.platform,
        "path": str(install.service_path()),
        "socket": str(install.dirs.socket),
        "changed": plan.changed,
        "dry_run": args.dry_run,
        "warnings": plan.warnings,
    }
    warnings = [f"warning: {w}" for w in plan.warnings]
    notes = [f"note: {n}" for n in plan.notes]
    if args.dry_run:
        document.update(steps=plan.describe(), commands=plan.commands)
        moving = credentials_move.describe(args.move_credentials, install)
        header = "dry run: nothing is created, written or run" + ("" if plan.changed else " (and nothing would change)")
        _print_plan(ctx, [header, *plan.describe(), *moving, *warnings, *notes], document)
        return exit_codes.OK
    require_root("service install --system")
    refuse_unsafe_code(plan.warnings)
    done = execute_system(plan, install, environ=dict(os.environ))
    moved = credentials_move.offer(ctx, args.move_credentials, install)
    document.update(done=done, credentials=moved)
    summary = (
        "protected mode is installed: nothing changed (it already was)"
        if not plan.changed
        else "protected mode is installed"
    )
    lines = [*done, *moved, "", summary, *notes, *credentials_move.next_steps(install)]
    _print_plan(ctx, lines, document)
    return exit_codes.OK


async def run_system_uninstall(ctx: Context, args: argparse.Namespace) -> int:
    import os

    from cli.system_service import execute_system, require_root

    install = _system_install(args)
    plan = install.uninstall_plan(purge=args.purge)
    document: dict[str, Any] = {"mode": "protected", "path": str(install.service_path()), "dry_run": args.dry_run}
    notes = [f"note: {n}" for n in plan.notes]
    if args.dry_run:
        document.update(steps=plan.describe(), commands=plan.commands)
        _print_plan(ctx, ["dry run: nothing is removed or run", *plan.describe(), *notes], document)
        return exit_codes.OK
    require_root("service uninstall --system")
    done = execute_system(plan, install, environ=dict(os.environ))
    document.update(done=done)
    _print_plan(ctx, [*done, *notes], document)
    return exit_codes.OK


async def run_control(ctx: Context, args: argparse.Namespace) -> int:
    import shlex

    from cli.service_manager import check, require_installed, run

    action: Literal["start", "stop", "restart"] = args.action
    manager = _manager(ctx, system=args.system)
    command = manager.control_command(action)
    if args.dry_run:
        _print_plan(ctx, [f"run: {shlex.join(command)}"], {"dry_run": True, "commands": [command]})
        return exit_codes.OK
    require_installed(manager)
    check(run(command, environ=manager.environ), command)
    _print_plan(ctx, [f"ran: {shlex.join(command)}"], {"dry_run": False, "commands": [command]})
    return exit_codes.OK


async def run_status(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.errors import BrokerError
    from cli.service_manager import run

    manager = _manager(ctx, system=args.system)
    view: dict[str, str] = {"installed": "yes" if manager.installed() else "no"}
    if manager.installed():
        command = manager.status_command()
        try:
            result = run(command, environ=manager.environ)
        except BrokerError as exc:
            view["manager"] = f"unavailable: {exc.message}"
        else:
            if result.returncode == 0:
                view.update(manager.parse_status(result.stdout))
            else:
                reason = (result.stderr or result.stdout).strip().splitlines()
                view["manager"] = f"{manager.tool} failed: {reason[-1] if reason else result.returncode}"
    try:
        status = await ctx.client().get_status(timeout=5)
        view["daemon"] = (
            f"etrade-daemon {status.daemon_version} (pid {status.pid or '?'}) answers on {ctx.client().socket_path}"
        )
        answering = True
    except BrokerError as exc:
        view["daemon"] = f"does not answer: {exc.message}"
        answering = False
    if ctx.out.json_mode:
        ctx.out.json({**view, "answering": answering})
    else:
        ctx.out.pairs(list(view.items()))
        if not manager.installed():
            how = "sudo etradectl service install --system" if args.system else "etradectl service install"
            ctx.out.info(f"\nhint: install the service with `{how}`")
    return exit_codes.OK if answering else exit_codes.DAEMON_UNAVAILABLE


async def run_logs(ctx: Context, args: argparse.Namespace) -> int:
    from cli.service_manager import require_installed, run

    manager = _manager(ctx, system=args.system)
    require_installed(manager)
    if args.lines < 1:
        ctx.out.error("--lines must be at least 1")
        return exit_codes.USAGE
    command = manager.logs_command(args.lines, args.follow)
    result = run(command, environ=manager.environ, capture=False)
    return exit_codes.OK if result.returncode == 0 else exit_codes.DAEMON_UNAVAILABLE
