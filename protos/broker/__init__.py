"""Namespace of the broker API versions (``v1``); imports nothing."""
