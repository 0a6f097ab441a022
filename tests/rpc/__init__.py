"""In-process tests over real sockets: a daemon (tests.harness.daemons) on a unix gRPC socket talking to the emulator over loopback HTTP; clients are broker_client and the proxy's server object."""
