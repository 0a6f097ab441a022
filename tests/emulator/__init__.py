"""The emulator's faithfulness to E*TRADE's documented API, in process over loopback HTTP with rauth (fixtures: conftest.py)."""
