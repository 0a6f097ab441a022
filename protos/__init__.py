"""The gRPC contract between etrade-daemon and its clients, with its committed generated code."""
