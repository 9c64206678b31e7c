"""What a run is asked to do: the suite and every option around it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edgeprobe.power.session import PowerSession
from edgeprobe.profiling.spec import STUDY_SCHEDULE, ProfileSchedule
from edgeprobe.runner.resume import ResumeState
from edgeprobe.suite.devices import DeviceProfile
from edgeprobe.suite.suites import Suite


@dataclass
class RunSettings:
    suite: Suite
    out_path: Path
    device: str = "auto"
    dtype: str | None = None
    memory_budget_bytes: int | None = None
    find_max_context: bool = False
    search_resolution_tokens: int = 1024
    search_limit_tokens: int = 1 << 20
    weights: dict[str, Path] = field(default_factory=dict)
    point_timeout_s: float | None = 3600.0
    threads: int | None = None
    telemetry_rate_hz: float | None = 10.0  # None: no telemetry
    device_profile: DeviceProfile | None = None  # None: detected from the device
    power: PowerSession | None = None  # preflighted; applied and restored by the run
    power_modes: list[str] = field(default_factory=list)  # sweep the suite across these
    thermal_guard: bool = True
    retry_throttled: bool = False
    idle_baseline_s: float = 3.0
    # Profiling passes run when the suite asks for them (``suite.profile``).
    profile_schedule: ProfileSchedule = STUDY_SCHEDULE
    trace_dir: Path | None = None  # Chrome traces of the profiling passes go here
    # The run's own arguments (``edgeprobe run`` ARGS, paths absolute): a resumed run
    # replays them. None for runs started from Python.
    argv: list[str] | None = None
    resume: ResumeState | None = None  # continue this unfinished bundle (out_path is it)
