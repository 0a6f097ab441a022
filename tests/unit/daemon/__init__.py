"""Unit tests of daemon/ pieces: errors, settings, rate limits, risk rules (table-driven), order units."""
