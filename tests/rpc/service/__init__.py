"""The daemon's health service and version handshake over its socket."""
