"""The daemon's contract and typed client, shared by daemon/, mcp_proxy/ and cli/.

What lives here is what all three processes must agree on: the typed gRPC client
(:mod:`broker_client.client`, on its channel core :mod:`broker_client.channel`), the error vocabulary (:mod:`broker_client.errors`) and its wire form
(:mod:`broker_client.error_wire`), the API version handshake (:mod:`broker_client.api_version`), every
gRPC metadata key (:mod:`broker_client.metadata_keys`), where the socket, configuration and state live
(:mod:`broker_client.paths`), the symbol rules (:mod:`broker_client.symbols`) and the protobuf→dict
helper (:mod:`broker_client.wire`).

Invariant (checked by ``lint-imports``): it imports only grpc, protobuf, ``protos/`` and the standard
library — never daemon/, mcp_proxy/ or cli/, never rauth, requests, APScheduler, tomlkit or keyring —
so a client that imports it stays light.
"""

#: The etrade-mcp release, the one definition (pyproject.toml reads it at build time). The wire
#: contract's own version is ``protos.broker.v1.API_VERSION``.
VERSION = "0.1.0"
