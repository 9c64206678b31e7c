"""Where a worker's time goes: wall time per phase on the monotonic clock.

Phases nest; time spent in an inner phase counts for the inner one only, so the totals add
up to the time spent inside any phase. The worker keeps one clock and hands its totals back
with every reply (``timing_s``), so the runner can say where a run's time went. No torch here.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

# Worker phases, in the order a point passes through them.
MODEL_BUILD = "model_build"
KERNEL_PATH_CHECK = "kernel_path_check"
MEMORY_PASS = "memory_pass"  # the first pass of a variant, on an emptied allocator
WARMUP = "warmup"
TIMED_PREFILL = "timed_prefill"
OBSERVE = "observe"  # the profiled, untimed pass that names the attention kernel
ENERGY_WINDOW = "energy_window"
DECODE = "decode"
DECODE_GRAPH = "decode_graph"
PROFILING = "profiling"
RELEASE = "release"  # garbage collection and emptying the allocator between passes


class PhaseClock:
    def __init__(self) -> None:
        self._totals: dict[str, float] = {}
        self._stack: list[list[object]] = []  # [phase, since]

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        now = time.monotonic()
        if self._stack:
            self._charge(self._stack[-1], now)
        self._stack.append([name, now])
        try:
            yield
        finally:
            now = time.monotonic()
            self._charge(self._stack.pop(), now)
            if self._stack:
                self._stack[-1][1] = now

    def _charge(self, entry: list[object], now: float) -> None:
        name, since = str(entry[0]), float(entry[1])  # type: ignore[arg-type]
        self._totals[name] = self._totals.get(name, 0.0) + (now - since)
        entry[1] = now

    def take(self) -> dict[str, float]:
        """The totals since the last call (phases still open are charged up to now)."""
        now = time.monotonic()
        for entry in self._stack:
            self._charge(entry, now)
        totals, self._totals = self._totals, {}
        return totals


_CLOCK = PhaseClock()


def phase(name: str) -> contextlib.AbstractContextManager[None]:
    """A phase of this process's clock: ``with phase(WARMUP): ...``."""
    return _CLOCK.phase(name)


def take() -> dict[str, float]:
    return _CLOCK.take()
