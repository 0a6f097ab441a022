"""Unit tests of cli/ rendering and parsing."""
