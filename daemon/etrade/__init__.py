"""The upstream E*TRADE client: HTTP, OAuth 1.0a signing and E*TRADE's JSON.

What lives here: :mod:`~daemon.etrade.upstream` (the signed HTTP client, tokens, E*TRADE's error
answers), :mod:`~daemon.etrade.etrade_json` (tolerant readers of E*TRADE's JSON into
:mod:`daemon.models`), :mod:`~daemon.etrade.emulator_clock` (the emulator's clock, read over HTTP,
as the daemon's clock in the emulator environment).

May import: the bottom layer only (``daemon.models``, ``daemon.settings``, ``daemon.clock``,
``daemon.log_redaction``), ``broker_client.errors``, ``requests``/``rauth``/``oauthlib`` and the
standard library. Nothing here knows about sessions, rate limits or gRPC.
"""
