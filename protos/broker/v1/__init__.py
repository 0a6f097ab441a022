"""Version 1 of the broker API (proto package ``etrade_mcp.broker.v1``).

``API_VERSION`` is MAJOR.MINOR: clients refuse a daemon with another MAJOR and warn on a newer
MINOR. Bump MINOR for additive changes (new RPCs, fields); MAJOR only for breaking ones, together
with a new ``v2`` package.
"""

API_VERSION = "1.6"
