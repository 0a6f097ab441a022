"""Unit tests of mcp_proxy/: the pydantic models agree with the protos."""
