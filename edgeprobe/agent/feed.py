"""Live telemetry for the agent's clients: a background sampler, its newest sample with the
device's facts, and a short, downsampled history of chosen columns (for sparklines).

Frames stay small: a telemetry frame is one flat sample (a few dozen numbers) plus a handful of
facts; the history is asked for once, when a client connects, and the client extends it from
the frames that follow.
"""

from __future__ import annotations

import math
import time
from typing import Any

from edgeprobe.telemetry import BackgroundSampler
from edgeprobe.telemetry.platform import cpu_model, jetson_model

# The sample's whole-device power, best first: the Jetson board input (or sum of rails), the
# discrete GPU (NVML), the CPU package (RAPL).
TOTAL_POWER_COLUMNS = ("board_power_w", "gpu_power_w", "cpu_package_power_w")
# Counters that give the energy of a stretch of time directly, by the power column they match.
ENERGY_COUNTERS = {"gpu_power_w": "gpu_energy_j", "cpu_package_power_w": "cpu_package_energy_j"}
FEED_HISTORY_S = 300.0
MAX_HISTORY_COLUMNS = 16
MAX_HISTORY_POINTS = 1200
_FACT_KEYS = ("power_mode", "jetson_clocks", "driver_version", "cuda_driver_version",
              "board_power_from", "jetson_backend")


def total_power_column(sample: dict[str, Any]) -> str | None:
    """The column holding the whole device's power in ``sample``, or None."""
    return next((c for c in TOTAL_POWER_COLUMNS if isinstance(sample.get(c), (int, float))), None)


def rail_columns(sample: dict[str, Any]) -> list[str]:
    return sorted(k for k in sample if k.startswith("rail_") and k.endswith("_power_w"))


class TelemetryFeed:
    """What the agent serves as live telemetry. ``start``/``stop`` run the sampler thread."""

    def __init__(self, sampler: BackgroundSampler | None = None, rate_hz: float = 10.0,
                 history_s: float = FEED_HISTORY_S) -> None:
        self.sampler = sampler or BackgroundSampler(rate_hz=rate_hz, history_s=history_s)
        self._device_name: str | None = None

    def start(self) -> None:
        self.sampler.start()
        self._device_name = self._read_device_name()

    def stop(self) -> None:
        self.sampler.stop()

    def _read_device_name(self) -> str:
        return (self.sampler.facts().get("gpu_name") or jetson_model() or cpu_model()
                or "unknown device")

    def facts(self) -> dict[str, Any]:
        """The few slow-changing facts a live view shows (power mode may change mid-run)."""
        merged = self.sampler.facts()
        facts = {key: merged[key] for key in _FACT_KEYS if merged.get(key) is not None}
        facts["device_name"] = self._device_name or self._read_device_name()
        facts["platform"] = ("jetson" if "jetson_backend" in merged
                             else "nvidia" if "gpu_name" in merged else "host")
        return facts

    def latest(self) -> dict[str, Any] | None:
        """The newest sample (unit-named values, ``throttle_reasons``) with ``facts``."""
        sample = self.sampler.latest()
        if not sample:
            return None
        sample["facts"] = self.facts()
        return sample

    def sources(self) -> list[dict[str, Any]]:
        return [status.as_dict() for status in self.sampler.availability()]

    def history(self, seconds: float = 60.0, columns: list[str] | None = None,
                step_s: float = 0.5) -> dict[str, Any]:
        """The last ``seconds`` of ``columns`` (default: total power and rails) as means over
        ``step_s`` buckets, oldest first, ending at the newest sample; None where a bucket has
        no reading."""
        if not 0 < seconds <= self.sampler.history_s:
            raise ValueError(f"seconds must be above 0 and at most {self.sampler.history_s:g}")
        if not step_s > 0 or seconds / step_s > MAX_HISTORY_POINTS:
            raise ValueError(f"step_s must be positive and give at most {MAX_HISTORY_POINTS} "
                             "points")
        latest = self.sampler.latest()
        if columns is None:
            total = total_power_column(latest)
            columns = ([total] if total else []) + rail_columns(latest)
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise ValueError("columns must be a list of names")
        columns = columns[:MAX_HISTORY_COLUMNS]
        buckets = max(1, round(seconds / step_s))
        end = latest.get("monotonic_s", time.monotonic())
        start = end - buckets * step_s
        rows = self.sampler.rows(start, end)
        series: dict[str, list[float | None]] = {}
        for column in columns:
            values = rows.columns.get(column)
            series[column] = (_bucket_means(rows.times, values, start, step_s, buckets)
                              if values is not None else [None] * buckets)
        return {"step_s": step_s, "end_monotonic_s": end, "series": series}


def _bucket_means(times: list[float], values: list[float], start: float, step_s: float,
                  buckets: int) -> list[float | None]:
    sums = [0.0] * buckets
    counts = [0] * buckets
    for t, value in zip(times, values, strict=True):
        index = math.floor((t - start) / step_s)
        if 0 <= index < buckets and not math.isnan(value):
            sums[index] += value
            counts[index] += 1
        elif index == buckets and not math.isnan(value):  # the newest sample sits on the edge
            sums[-1] += value
            counts[-1] += 1
    # Rounded to 1 mW / 1 mC: smaller frames, and no float noise for a sparkline to magnify.
    return [round(total / count, 3) if count else None
            for total, count in zip(sums, counts, strict=True)]


def make_feed(rate_hz: float) -> TelemetryFeed:
    """The agent's feed: every source that may work here, sampled ``rate_hz`` times a second."""
    return TelemetryFeed(rate_hz=rate_hz)
