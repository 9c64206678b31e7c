"""``edgeprobe tui``: the device and the running suite, live, in a terminal (Textual).

It talks to the agent through the client library only; without an agent it runs a private
one in its own process (telemetry feed and job queue) and says so.
"""
