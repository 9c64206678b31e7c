"""A quick thermal snapshot for each probe point (the full samplers live beside this)."""

from __future__ import annotations

from typing import Any

from edgeprobe.telemetry.thermal import read_zones


def thermal_snapshot() -> dict[str, Any]:
    zones = read_zones()
    snapshot: dict[str, Any] = {}
    if zones:
        hottest = max(zones, key=lambda z: z.temp_c)
        snapshot.update(max_zone_c=hottest.temp_c, hottest_zone=hottest.name)
    gpu = _gpu_temperature_c()
    if gpu is not None:
        snapshot["gpu_c"] = gpu
    if not snapshot:
        snapshot["unavailable"] = "no readable thermal zone or GPU sensor"
    return snapshot


def _gpu_temperature_c() -> float | None:
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            return float(pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU))
        finally:
            pynvml.nvmlShutdown()
    except Exception:
        return None
