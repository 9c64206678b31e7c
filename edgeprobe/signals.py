"""Stop a run cleanly on Ctrl-C, SIGTERM or SIGHUP (an SSH session that drops), once.

Inside ``interruptible()``, the first of those signals raises ``Interrupted`` in the main
thread (a KeyboardInterrupt), so ``finally`` blocks restore power modes and close bundles.
Every later one is acknowledged with one line on stderr and otherwise ignored until the
block ends: a second Ctrl-C cannot cut the footer or leave a power mode switched.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType


class Interrupted(KeyboardInterrupt):
    """The run was asked to stop by a signal; ``signal_name`` says which."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


_SIGNALS = tuple(s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None),
                             getattr(signal, "SIGHUP", None)) if s is not None)


def _name(signum: int) -> str:
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


def acknowledge(signum: int, _frame: FrameType | None = None) -> None:
    """A signal handler that only says the signal arrived and changes nothing."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"edgeprobe: {_name(signum)}: already stopping; the bundle's footer "
                         "and power settings come first\n")
        sys.stderr.flush()


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = False

    def handler(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            acknowledge(signum)
            return
        stopping = True
        raise Interrupted(_name(signum))

    previous = {s: signal.signal(s, handler) for s in _SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
