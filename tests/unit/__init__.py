"""Unit tests: pure functions and objects, no processes and no sockets. May import any product package and tests.harness helpers that start nothing."""
