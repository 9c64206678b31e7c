"""The physical conditions of a run: telemetry, power settings and the thermal guard.

The runner asks this module to set the conditions up (power mode, idle-power baseline), to
wait before each point until the device is cool, to attach energy, temperature and throttling
to each point, to stream the telemetry timeline, and to put every setting back at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgeprobe.errors import EdgeprobeError
from edgeprobe.power.guard import ThermalGuard, Verdict
from edgeprobe.power.session import PowerSession
from edgeprobe.suite.devices import DeviceProfile
from edgeprobe.telemetry import BackgroundSampler

Notice = Callable[..., None]
TIMELINE_EVERY_S = 5.0
IDLE_BASELINE_S = 3.0


class CriticalTemperature(EdgeprobeError):
    """The device passed its critical temperature: the run stops, cleanly."""

    exit_code = 4


@dataclass
class PointConditions:
    energy: dict[str, Any]
    verdict: Verdict
    thermal: dict[str, Any]


class Conditions:
    def __init__(self, sampler: BackgroundSampler | None, profile: DeviceProfile,
                 power: PowerSession | None, notice: Notice, thermal_guard: bool = True) -> None:
        self.sampler = sampler
        self.profile = profile
        self.power = power
        self.notice = notice
        self.guard = ThermalGuard(profile.thermal, self.temperature_c) if sampler else None
        self.thermal_guard = thermal_guard and self.guard is not None
        self._last_drain = time.monotonic()
        self.baselines: dict[str, dict[str, Any]] = {}

    # -- set-up -----------------------------------------------------------------------------
    def start(self) -> None:
        if self.sampler is not None:
            self.sampler.start()
        if self.power is not None:
            self.power.apply()

    def idle_baseline(self, label: str, seconds: float = IDLE_BASELINE_S) -> dict[str, Any]:
        """Power drawn with the model unloaded and the device idle, before the points."""
        if self.sampler is None or not self.has_power_sensor():
            return {}
        start = time.monotonic()
        time.sleep(seconds)
        window = self.sampler.energy_window(start, time.monotonic()).as_dict()
        baseline = {"duration_s": seconds, "mean_power_w": window.get("mean_power_w"),
                    "energy_source": window.get("energy_source"),
                    "temp_c": window.get("temp_end_c")}
        self.baselines[label] = baseline
        if baseline["mean_power_w"] is not None:
            self.notice("idle_baseline", f"idle power ({label}): "
                        f"{baseline['mean_power_w']:.1f} W", **baseline, label=label)
        return baseline

    def has_power_sensor(self) -> bool:
        assert self.sampler is not None
        self.sampler.open()
        return any(name.endswith(("_power_w", "_energy_j")) for name in self.sampler.metrics)

    def describe(self) -> dict[str, Any]:
        return {"telemetry": self.sampler.describe() if self.sampler else None,
                "device_profile": self.profile.as_dict(),
                "thermal_guard": self.thermal_guard,
                "power_session": self.power.describe() if self.power else None}

    # -- around each point ------------------------------------------------------------------
    def temperature_c(self) -> float | None:
        if self.sampler is None:
            return None
        latest = self.sampler.latest()
        for column in ("gpu_temp_c", "zones_max_temp_c"):
            if column in latest:
                return float(latest[column])
        return None

    def snapshot(self) -> dict[str, Any]:
        """Temperatures, clocks and throttling right now, for a point's provenance."""
        if self.sampler is None:
            return {"unavailable": "no telemetry"}
        latest = self.sampler.latest()
        keys = ("gpu_temp_c", "zones_max_temp_c", "sm_clock_mhz", "gpu_sm_clock_mhz",
                "gpu_power_w", "throttle_reasons")
        found = {k: latest[k] for k in keys if k in latest}
        return found or {"unavailable": "no temperature sensor readable"}

    def before_point(self) -> dict[str, Any] | None:
        if not self.thermal_guard or self.guard is None:
            return None
        last_report = [0.0]

        def progress(temp: float, waited: float) -> None:
            if waited - last_report[0] >= 10 or last_report[0] == 0:
                last_report[0] = max(waited, 1e-9)
                self.notice("cooldown", f"waiting for the device to cool: {temp:.0f} °C, "
                            f"start below {self.guard.limits.start_c:.0f} °C "
                            f"({waited:.0f} s so far)", temp_c=temp)

        result = self.guard.wait_until_cool(progress)
        if result.timed_out:
            self.notice("cooldown_timeout", f"still {result.end_c:.0f} °C after "
                        f"{result.waited_s:.0f} s: measuring anyway (marked in the point)",
                        level="warning")
        if result.waited_s < 0.5 and not result.timed_out:
            return None
        return {"waited_s": result.waited_s, "start_c": result.start_c, "end_c": result.end_c,
                "timed_out": result.timed_out}

    def after_point(self, phases: dict[str, Any]) -> PointConditions:
        energy: dict[str, Any] = {}
        reasons: set[str] = set()
        max_temp: float | None = None
        if self.sampler is not None:
            for name, phase in phases.items():
                window = self.sampler.phase_energy(phase)
                energy[name] = window
                reasons.update(window.get("throttle_reasons") or [])
                temp = window.get("temp_max_c")
                if temp is not None:
                    max_temp = temp if max_temp is None else max(max_temp, temp)
        verdict = (self.guard.judge(max_temp, reasons) if self.guard
                   else Verdict("ok", (), max_temp))
        thermal = {"max_temp_c": max_temp, "throttle_reasons": sorted(reasons),
                   "verdict": verdict.status, "verdict_reasons": list(verdict.reasons)}
        return PointConditions(energy, verdict, thermal)

    def check_critical(self, verdict: Verdict) -> None:
        if verdict.status == "critical":
            raise CriticalTemperature(
                f"the device reached {verdict.max_temp_c:.0f} °C, past its critical limit "
                f"{self.profile.thermal.critical_c:.0f} °C ({self.profile.name}): run stopped; "
                "completed points are in the bundle")

    def timeline_chunks(self, force: bool = False) -> list[dict[str, Any]]:
        """Telemetry timeline chunks due for the bundle (every few seconds, or now)."""
        if self.sampler is None:
            return []
        if not force and time.monotonic() - self._last_drain < TIMELINE_EVERY_S:
            return []
        self._last_drain = time.monotonic()
        chunk = self.sampler.drain_timeline()
        return [chunk] if chunk else []

    def notices(self) -> list[str]:
        return self.sampler.drain_notices() if self.sampler else []

    # -- tear-down --------------------------------------------------------------------------
    def stop(self) -> None:
        try:
            if self.power is not None:
                self.power.restore()
        finally:
            if self.sampler is not None:
                self.sampler.stop()
