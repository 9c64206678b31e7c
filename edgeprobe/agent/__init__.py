"""The agent: a long-running process that samples telemetry, runs suites as jobs, and serves
both over a Unix domain socket (length-prefixed msgpack frames)."""
