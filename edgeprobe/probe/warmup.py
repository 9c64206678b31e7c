"""Warm-up until the timings settle, within bounds, instead of a fixed count.

The first passes of a shape pay for one-time work (allocator growth, kernel autotuning,
cuDNN execution plans, Triton compilation, page faults on the CPU). Warm-up repeats the pass
until two consecutive passes agree within a tolerance, at least ``min_passes`` times and at
most ``max_passes`` times or ``max_seconds``, and reports how many it took.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edgeprobe.stats import relative_change


@dataclass(frozen=True)
class WarmupPolicy:
    min_passes: int = 1
    max_passes: int = 10
    tolerance: float = 0.05  # relative change between the last two passes
    max_seconds: float = 20.0


@dataclass
class WarmupResult:
    passes: int = 0
    stable: bool = False
    seconds: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"warmup_passes": self.passes, "warmup_stable": self.stable}


def settled(seconds: list[float], policy: WarmupPolicy) -> bool:
    if len(seconds) < max(2, policy.min_passes):
        return False
    return relative_change(seconds[-1], seconds[-2]) <= policy.tolerance


def warm_up(run_once: Callable[[], float], policy: WarmupPolicy) -> WarmupResult:
    """Call ``run_once`` (which returns its own duration) until the timings settle."""
    result = WarmupResult()
    if policy.min_passes <= 0:
        return result
    started = time.monotonic()
    while result.passes < policy.max_passes:
        result.seconds.append(run_once())
        result.passes += 1
        if settled(result.seconds, policy):
            result.stable = True
            break
        if result.passes >= policy.min_passes and time.monotonic() - started > policy.max_seconds:
            break
    return result
