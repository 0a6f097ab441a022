"""End-to-end tests with real processes: the emulator, etrade-daemon, etrade-mcp over stdio, etradectl (harness: tests.harness.processes)."""
