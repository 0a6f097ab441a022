"""The gRPC face of the daemon: server, servicers, converters, and who may call what.

What lives here: :mod:`~daemon.rpc.server` (the Unix-socket gRPC server and its interceptors),
:mod:`daemon.rpc.servicers` (one thin servicer per service), :mod:`daemon.rpc.convert` (domain
objects → messages, one module per service), :mod:`~daemon.rpc.authority` and
:mod:`~daemon.rpc.peercred` (the caller's identity and operator authority),
:mod:`~daemon.rpc.version_gate` (the API-version handshake), :mod:`~daemon.rpc.health`
(grpc.health.v1), :mod:`~daemon.rpc.rpc_errors` (domain errors → status and trailing metadata),
:mod:`~daemon.rpc.process_info` (status facts about this process).

May import: ``daemon.app`` and everything below it, ``grpc``, ``protos``, ``broker_client``. Only
``daemon.main`` imports this package; domain code never imports gRPC.
"""
