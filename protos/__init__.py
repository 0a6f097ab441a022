"""The gRPC contract between etrade-daemon and its clients, with its committed generated code.

``broker/v1/*.proto`` and the code ``protos.generate`` (``make protos``) makes from them: the
protobuf and gRPC modules there, and the proxy's output models (``mcp_proxy/wire_models.py``, by
``protos.proxy_models``). The generated modules import only protobuf and grpc.
"""
