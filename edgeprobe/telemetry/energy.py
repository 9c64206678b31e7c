"""Energy windows: energy, power, temperature and throttling over one probe phase.

Computed after the fact from samples: counters (NVML, RAPL) are interpolated linearly at the
window's edges and differenced; power (NVML instantaneous, Jetson rails) is integrated with
the trapezoid rule over the samples inside plus interpolated values at the edges.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any

from edgeprobe.telemetry.nvml import MASK_COLUMN, decode_clock_events
from edgeprobe.telemetry.ring import Rows
from edgeprobe.telemetry.thermal import MAX_COLUMN

# (energy source name, column, is it a counter, the power column that goes with it), best first.
ENERGY_SOURCES: tuple[tuple[str, str, bool, str], ...] = (
    ("nvml_counter", "gpu_energy_j", True, "gpu_power_w"),
    ("integrated_power", "gpu_power_w", False, "gpu_power_w"),
    ("jetson_rails", "board_power_w", False, "board_power_w"),
    ("rapl_counter", "cpu_package_energy_j", True, "cpu_package_power_w"),
)
TEMPERATURE_COLUMNS = ("gpu_temp_c", MAX_COLUMN)
SM_CLOCK_COLUMN = "gpu_sm_clock_mhz"

Point = tuple[float, float]


@dataclass
class EnergyWindow:
    start_monotonic_s: float
    end_monotonic_s: float
    duration_s: float
    samples: int  # samples taken inside the window
    energy_j: float | None = None
    energy_source: str | None = None
    # Every estimate that could be made, e.g. both the NVML counter and integrated power.
    energy_by_source_j: dict[str, float] = field(default_factory=dict)
    mean_power_w: float | None = None  # energy_j / covered_s
    peak_power_w: float | None = None
    power_column: str | None = None
    temp_start_c: float | None = None
    temp_max_c: float | None = None
    temp_end_c: float | None = None
    temp_column: str | None = None
    throttle_reasons: list[str] = field(default_factory=list)
    sm_clock_min_mhz: float | None = None
    sm_clock_mean_mhz: float | None = None
    covered_s: float = 0.0  # part of the window with samples on both sides
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _points(times: Sequence[float], values: Sequence[float]) -> list[Point]:
    return [(t, v) for t, v in zip(times, values, strict=True) if not math.isnan(v)]


def interpolate(points: list[Point], t: float) -> float | None:
    """Value at ``t`` on the line through the samples; None outside them."""
    if not points or t < points[0][0] or t > points[-1][0]:
        return None
    for (t0, v0), (t1, v1) in pairwise(points):
        if t0 <= t <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return points[-1][1]


def _clip(points: list[Point], start: float, end: float) -> list[Point]:
    """The piecewise-linear curve between ``start`` and ``end`` (clamped to the samples)."""
    if len(points) < 2:
        return []
    lo, hi = max(start, points[0][0]), min(end, points[-1][0])
    if hi <= lo:
        return []
    inside = [(t, v) for t, v in points if lo < t < hi]
    return [(lo, interpolate(points, lo)), *inside, (hi, interpolate(points, hi))]  # type: ignore[list-item]


def integrate(points: list[Point], start: float, end: float) -> tuple[float, float] | None:
    """(trapezoid integral, seconds covered) of the curve over [start, end]."""
    curve = _clip(points, start, end)
    if not curve:
        return None
    area = sum((t1 - t0) * (v0 + v1) / 2 for (t0, v0), (t1, v1) in pairwise(curve))
    return area, curve[-1][0] - curve[0][0]


def difference(points: list[Point], start: float, end: float) -> tuple[float, float] | None:
    """(counter increase, seconds covered) over [start, end]."""
    curve = _clip(points, start, end)
    if not curve:
        return None
    return curve[-1][1] - curve[0][1], curve[-1][0] - curve[0][0]


def compute_window(rows: Rows, start: float, end: float) -> EnergyWindow:
    """The energy window over [start, end] from rows that bracket it."""
    times = rows.times
    window = EnergyWindow(start, end, max(end - start, 0.0),
                          samples=sum(1 for t in times if start <= t <= end))
    if end < start:
        window.note = "window ends before it starts"
        return window
    if not times:
        window.note = "no telemetry samples around this window"
        return window
    covered = {}
    for name, column, counter, _ in ENERGY_SOURCES:
        if column not in rows.columns:
            continue
        points = _points(times, rows.columns[column])
        result = difference(points, start, end) if counter else integrate(points, start, end)
        if result is not None:
            window.energy_by_source_j[name] = result[0]
            covered[name] = result[1]
    for name, _, _, power_column in ENERGY_SOURCES:
        if name in window.energy_by_source_j:
            window.energy_source, window.energy_j = name, window.energy_by_source_j[name]
            window.covered_s = covered[name]
            if window.covered_s > 0:
                window.mean_power_w = window.energy_j / window.covered_s
            window.power_column = power_column
            break
    if window.power_column and window.power_column in rows.columns:
        curve = _clip(_points(times, rows.columns[window.power_column]), start, end)
        if curve:
            window.peak_power_w = max(v for _, v in curve)
    _temperatures(window, rows, start, end)
    _clocks(window, rows, start, end)
    _notes(window, rows, start, end)
    return window


def _temperatures(window: EnergyWindow, rows: Rows, start: float, end: float) -> None:
    for column in TEMPERATURE_COLUMNS:
        points = _points(rows.times, rows.columns.get(column, []) or [math.nan] * len(rows.times))
        if not points:
            continue
        window.temp_column = column
        before = [v for t, v in points if t <= start]
        after = [v for t, v in points if t >= end]
        inside = [v for t, v in points if start <= t <= end]
        window.temp_start_c = before[-1] if before else points[0][1]
        window.temp_end_c = after[0] if after else points[-1][1]
        window.temp_max_c = max([*inside, window.temp_start_c, window.temp_end_c])
        return


def _clocks(window: EnergyWindow, rows: Rows, start: float, end: float) -> None:
    if MASK_COLUMN in rows.columns:
        seen: list[str] = []
        for value in rows.columns[MASK_COLUMN]:
            if not math.isnan(value):
                seen += [n for n in decode_clock_events(int(value)) if n not in seen]
        window.throttle_reasons = seen
    if SM_CLOCK_COLUMN in rows.columns:
        inside = [v for t, v in _points(rows.times, rows.columns[SM_CLOCK_COLUMN])
                  if start <= t <= end]
        if inside:
            window.sm_clock_min_mhz = min(inside)
            window.sm_clock_mean_mhz = sum(inside) / len(inside)


def _notes(window: EnergyWindow, rows: Rows, start: float, end: float) -> None:
    notes = []
    if rows.times[0] > start:
        notes.append("window starts before the oldest sample kept")
    if rows.times[-1] < end:
        notes.append("no sample after the window's end yet")
    if window.energy_source is None:
        notes.append("no energy or power sensor")
    elif window.samples < 2:
        notes.append(f"only {window.samples} sample(s) inside the window: energy is "
                     "interpolated between samples around it")
    window.note = "; ".join(notes) or None
