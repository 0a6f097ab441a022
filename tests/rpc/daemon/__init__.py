"""The daemon's services through its gRPC socket (and its HTTP gateway to the emulator)."""
