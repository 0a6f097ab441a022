"""The API version handshake between etrade-daemon and its clients (the MCP proxy, etradectl).

``protos.broker.v1.API_VERSION`` is ``MAJOR.MINOR``. Both sides put theirs in gRPC metadata under
``x-etrade-api-version``: the client on every request, the daemon in the initial metadata of every
response — except when the client's request says, under ``x-etrade-daemon-api-version``, that it
already knows the daemon's version and names the right one: announcing it again would cost every
call a separate metadata send (about a tenth of a millisecond) for nothing. A daemon whose version
differs from the one the client names announces it again, so the client re-checks. Rules, the
same on both sides:

- same MAJOR, same MINOR: nothing to say;
- same MAJOR, other MINOR: compatible (MINOR changes are additive), but one side may lack a call
  the other knows; the client warns once, naming both versions;
- other MAJOR: incompatible. The daemon refuses the call before it runs (API_VERSION_MISMATCH);
  a client that meets such a daemon anyway raises :class:`~broker_client.errors.VersionMismatch` (etradectl
  exits 8) without using the answer.

Import-light: the proxy and the CLI import it through ``broker_client.client``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from broker_client.errors import ErrorCode, VersionMismatch


class Compatibility(enum.Enum):
    SAME = "same"
    MINOR_DIFFERS = "minor_differs"
    MAJOR_DIFFERS = "major_differs"
    UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True, order=True)
class Version:
    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


def parse(text: str) -> Version | None:
    """``"1.4"`` → Version(1, 4); anything else → None."""
    major, dot, minor = text.strip().partition(".")
    if not dot or not major.isdigit() or not minor.isdigit():
        return None
    return Version(int(major), int(minor))


def compare(client: str, daemon: str) -> Compatibility:
    mine, theirs = parse(client), parse(daemon)
    if mine is None or theirs is None:
        return Compatibility.UNREADABLE
    if mine.major != theirs.major:
        return Compatibility.MAJOR_DIFFERS
    if mine.minor != theirs.minor:
        return Compatibility.MINOR_DIFFERS
    return Compatibility.SAME


def mismatch_error(client: str, daemon: str) -> VersionMismatch:
    """The refusal for an incompatible pair, with the fix (restart/upgrade so both match)."""
    return VersionMismatch(
        ErrorCode.API_VERSION_MISMATCH,
        f"the broker daemon speaks API {daemon} and this client API {client}; their major versions differ",
        hint="install the same etrade-mcp version for the daemon and its clients, then restart the daemon "
        "(`etradectl service restart`, or stop and start etrade-daemon)",
    )


def minor_warning(client: str, daemon: str) -> str:
    newer = "daemon" if (parse(daemon) or Version(0, 0)) > (parse(client) or Version(0, 0)) else "client"
    return (
        f"the broker daemon speaks API {daemon} and this client API {client} (the {newer} is newer); "
        "they work together, but calls only the newer one knows will fail: "
        "install the same etrade-mcp version for both and restart the daemon"
    )
