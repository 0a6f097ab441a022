"""Every gRPC metadata key etrade-mcp sends or reads, in one place.

Import-light (no imports at all): the daemon, the client, the proxy and etradectl share it.
"""

from __future__ import annotations

#: The client's self-declared name (``etradectl/0.1.0``, ``etrade-mcp/0.1.0``): recorded, never trusted.
CLIENT_KEY = "x-etrade-client"
#: ``MAJOR.MINOR`` of the API, sent both ways (see ``broker_client/api_version.py``).
API_VERSION_KEY = "x-etrade-api-version"
#: The daemon's API version as the client learned it; the daemon then need not announce it again.
KNOWN_API_VERSION_KEY = "x-etrade-daemon-api-version"
#: The caller's identity token from the identity handshake (see ``daemon/authority.py``). A secret
#: of the calling process: never logged.
AUTH_KEY = "x-etrade-auth"
#: Error vocabulary, in trailing metadata (see ``broker_client/error_wire.py``).
CODE_KEY = "x-etrade-error-code"
HINT_KEY = "x-etrade-error-hint-bin"
RETRY_AFTER_KEY = "x-etrade-retry-after"
