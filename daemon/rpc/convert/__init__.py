"""Domain objects → protobuf messages, one module per service (``common`` holds what they share).

Field names match, so most conversion is mechanical. May import: the domain packages (for their
types), ``protos`` and ``daemon.rpc.convert.common``; never gRPC itself.
"""
