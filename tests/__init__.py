"""The test suite, in layers by folder; each layer's marker is its folder's name (tests/conftest.py).

unit/: pure functions and objects: no processes, no sockets (`pytest tests/unit` takes seconds).
rpc/: in process: daemon and proxy code over real sockets (the daemon's gRPC unix socket, the
emulator on loopback HTTP, a session D-Bus).
e2e/: real processes: emulator, etrade-daemon, etrade-mcp over stdio, etradectl.
emulator/: the emulator's own faithfulness to E*TRADE's documented behaviour.
system/: the installation and the host: the wheel in a fresh venv, service units, generated code,
protected mode (root-only tests skip with a reason otherwise).
harness/: what the layers share: the process harness, the in-process daemon, helpers; no tests."""
