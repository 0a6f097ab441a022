"""The daemon's dealings with the machine it runs on, with no domain knowledge.

What lives here: :mod:`~daemon.host.sd_notify` (systemd readiness and watchdog messages),
:mod:`~daemon.host.notify` (desktop notifications over D-Bus or osascript, text never in argv),
:mod:`~daemon.host.protected` (protected mode's directories and ownership checks).

May import: the standard library, ``jeepney`` and ``broker_client`` only; nothing of the daemon (every
layer may use it).
"""
