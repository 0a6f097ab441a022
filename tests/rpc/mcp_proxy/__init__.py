"""The MCP surface (tools, prompts, resources) served in process over a real daemon socket."""
