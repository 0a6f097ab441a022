"""A faithful local stand-in for E*TRADE's v1 REST API and OAuth 1.0a.

Public API::

    from emulator import Emulator, DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET

    with Emulator(seed=42, port=0, latency_ms=(0, 0), rate_limits=None) as emu:
        emu.base_url, emu.consumer_key, emu.consumer_secret
        emu.clock.set(...); emu.clock.advance(...); emu.clock.freeze()
        emu.pending_verifier(request_token)
        emu.stats()

``emulator.universe`` is the symbol table (with an emulator-side sector column that E*TRADE
itself does not provide). See ``emulator/README.md`` for the admin interface and assumptions.
"""

from emulator import universe
from emulator.app import DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET, DEFAULT_LATENCY_MS, Emulator
from emulator.clock import Clock
from emulator.limits import DEFAULT_RATE_LIMITS

__all__ = [
    "DEFAULT_CONSUMER_KEY",
    "DEFAULT_CONSUMER_SECRET",
    "DEFAULT_LATENCY_MS",
    "DEFAULT_RATE_LIMITS",
    "Clock",
    "Emulator",
    "universe",
]
