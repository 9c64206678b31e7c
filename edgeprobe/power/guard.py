"""Thermal guard: wait for the device to cool before a point, judge each point afterwards.

Temperatures come from a callable (the telemetry sampler's hottest GPU/SoC sensor), so the
guard works the same on a Jetson, a discrete GPU and in tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from edgeprobe.suite.devices import ThermalLimits

# NVML clock-event reasons that mean the clocks were cut for heat or power, by name.
THERMAL_REASONS = frozenset({"hw_thermal_slowdown", "sw_thermal_slowdown", "hw_slowdown"})
POWER_REASONS = frozenset({"sw_power_cap", "hw_power_brake_slowdown"})

ThermalVerdictName = str  # "ok" | "throttled" | "critical"


@dataclass(frozen=True)
class Cooldown:
    waited_s: float
    start_c: float | None
    end_c: float | None
    timed_out: bool
    reading: str | None = None  # why no temperature could be read, when none could


@dataclass(frozen=True)
class Verdict:
    status: ThermalVerdictName
    reasons: tuple[str, ...] = ()
    max_temp_c: float | None = None

    @property
    def thermal(self) -> bool:
        """Throttled by heat (worth a retry after cooling), not by a power cap."""
        return any(r in THERMAL_REASONS or r.startswith("temp>") for r in self.reasons)


class ThermalGuard:
    def __init__(self, limits: ThermalLimits, read_temp_c: Callable[[], float | None],
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, poll_s: float = 2.0) -> None:
        self.limits = limits
        self.read_temp_c = read_temp_c
        self.sleep = sleep
        self.clock = clock
        self.poll_s = poll_s

    def wait_until_cool(self, on_progress: Callable[[float, float], None] | None = None
                        ) -> Cooldown:
        """Block until the temperature is under ``start_c`` or the time-out passes."""
        started = self.clock()
        first = temp = self.read_temp_c()
        if temp is None:
            return Cooldown(0.0, None, None, False, reading="no temperature sensor readable")
        while temp is not None and temp >= self.limits.start_c:
            waited = self.clock() - started
            if waited >= self.limits.cooldown_timeout_s:
                return Cooldown(waited, first, temp, True)
            if on_progress is not None:
                on_progress(temp, waited)
            self.sleep(self.poll_s)
            temp = self.read_temp_c()
        return Cooldown(self.clock() - started, first, temp, False)

    def judge(self, max_temp_c: float | None, reasons: Iterable[str] = ()) -> Verdict:
        """A point's verdict from its window's hottest reading and the clock-event reasons."""
        seen = tuple(sorted({r for r in reasons if r in THERMAL_REASONS | POWER_REASONS}))
        if max_temp_c is not None and max_temp_c >= self.limits.critical_c:
            return Verdict("critical", (*seen, f"temp>{self.limits.critical_c:g}C"), max_temp_c)
        hot = max_temp_c is not None and max_temp_c >= self.limits.limit_c
        if hot:
            seen = (*seen, f"temp>{self.limits.limit_c:g}C")
        return Verdict("throttled" if seen else "ok", seen, max_temp_c)
