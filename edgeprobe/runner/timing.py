"""Where a run's wall time goes, for the footer's ``timing``.

Two sources, one monotonic clock: the runner times its own phases (starting workers, cooling
down, idle baselines, power switches, max-context trials, bundle writes), and each worker
reply carries the worker's phases (building the model, warm-up, timed passes, decode, ...).
A worker request made inside a runner phase counts for that phase alone; one made outside
counts as the worker's phases plus ``worker_other`` (messages, prompts, bookkeeping). What
neither accounts for is ``other``: the run's own bookkeeping and idle time.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from typing import Any

from edgeprobe.probe.clock import PhaseClock

WORKER_START = "worker_start"
COOLDOWN = "cooldown"
IDLE_BASELINE = "idle_baseline"
POWER_SWITCH = "power_switch"
MAX_CONTEXT_TRIALS = "max_context_trials"
TELEMETRY = "telemetry"  # energy, temperatures and the timeline after each point
BUNDLE_WRITE = "bundle_write"
WORKER_OTHER = "worker_other"
FAILED_REQUESTS = "failed_requests"  # requests whose worker died or hung
OTHER = "other"

# Phases whose time is the measurement itself (the rest is set-up, waiting and overhead).
TIMED_WORK = ("timed_prefill", "decode", "decode_graph")


class RunTiming:
    def __init__(self) -> None:
        self.started_monotonic_s = time.monotonic()
        self._clock = PhaseClock()
        self._open = 0  # runner phases open now
        self._totals: dict[str, float] = {}
        self.counts: Counter[str] = Counter()

    @contextlib.contextmanager
    def phase(self, name: str) -> Any:
        """A runner phase; worker requests and writes inside it count for it alone."""
        self._open += 1
        try:
            with self._clock.phase(name):
                yield
        finally:
            self._open -= 1

    def _add(self, name: str, seconds: float) -> None:
        self._totals[name] = self._totals.get(name, 0.0) + max(0.0, seconds)

    def worker_reply(self, timing_s: dict[str, float] | None, wall_s: float) -> None:
        """A worker request that took ``wall_s``; ``timing_s`` its phases (None: it died)."""
        if self._open:
            return
        if timing_s is None:
            self._add(FAILED_REQUESTS, wall_s)
            return
        for name, seconds in timing_s.items():
            self._add(name, float(seconds))
        self._add(WORKER_OTHER, wall_s - sum(timing_s.values()))

    def written(self, seconds: float) -> None:
        """A bundle record written (and fsynced) in ``seconds``."""
        if not self._open:
            self._add(BUNDLE_WRITE, seconds)

    def record(self) -> dict[str, Any]:
        """The footer's ``timing``: seconds per phase (``other`` included), and counts."""
        wall_s = time.monotonic() - self.started_monotonic_s
        phases = dict(self._totals)
        for name, seconds in self._clock.take().items():
            phases[name] = phases.get(name, 0.0) + seconds
        self._totals = dict(phases)
        phases[OTHER] = max(0.0, wall_s - sum(phases.values()))
        timed = sum(phases.get(name, 0.0) for name in TIMED_WORK)
        return {"clock": "monotonic", "wall_s": wall_s,
                "phases_s": dict(sorted(phases.items(), key=lambda kv: -kv[1])),
                "timed_work_s": timed, "counts": dict(self.counts)}
