"""Running out of file descriptors (or memory for sockets) while accepting clients: one log
line a minute instead of a traceback per attempt.

asyncio already backs off for a second before accepting again after EMFILE, ENFILE,
ENOBUFS or ENOMEM; what it also does is hand each failure to the loop's exception handler,
which logs a full traceback. And a retry still pending when the server closes finds its
socket gone (``Invalid file descriptor: -1``): expected then, and not logged. Other errors
keep the default handling.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from typing import Any

log = logging.getLogger("edgeprobe.agent")
RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
REPEAT_EVERY_S = 60.0


class QuietAccept:
    def __init__(self) -> None:
        self.failures = 0
        self.last_logged = -REPEAT_EVERY_S

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if self.failures and isinstance(exc, ValueError) \
                and "Invalid file descriptor: -1" in str(exc):
            return  # an accept retry that outlived the server's closed socket
        if not isinstance(exc, OSError) or exc.errno not in RESOURCE_ERRORS:
            loop.default_exception_handler(context)
            return
        self.failures += 1
        now = time.monotonic()
        if now - self.last_logged >= REPEAT_EVERY_S:
            self.last_logged = now
            log.warning("cannot accept clients: %s (%d times so far); retrying every second",
                        exc.strerror or "out of resources", self.failures)


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> QuietAccept:
    handler = QuietAccept()
    loop.set_exception_handler(handler)
    return handler
