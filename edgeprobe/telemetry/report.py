"""What ``edgeprobe info`` reports: platform, GPU, power state, and which sensors work."""

from __future__ import annotations

import math
import time
from typing import Any

from edgeprobe import __version__
from edgeprobe.power.state import current_power_state
from edgeprobe.telemetry.platform import host_info
from edgeprobe.telemetry.sampler import BackgroundSampler

# Seconds between the two samples taken, so that rates (CPU load, RAPL power) have a value.
SAMPLE_GAP_S = 0.2


def machine_report(sampler: BackgroundSampler | None = None) -> dict[str, Any]:
    sampler = sampler or BackgroundSampler()
    sampler.sample_once()
    time.sleep(SAMPLE_GAP_S)
    sampler.sample_once()
    facts = sampler.facts()
    host = host_info()
    statuses = sampler.availability()
    sample = {k: v for k, v in sampler.latest().items()
              if not (isinstance(v, float) and math.isnan(v))}
    sampler.stop()
    jetson = host.pop("jetson", None)
    return {
        "edgeprobe_version": __version__,
        "platform": host,
        "jetson": jetson,
        "gpu": _gpu(facts, jetson),
        "power": {**current_power_state(), "jetson_clocks": facts.get("jetson_clocks")},
        "sensors": [s.as_dict() for s in statuses],
        "working": sum(1 for s in statuses if s.available),
        "not_working": sum(1 for s in statuses if not s.available),
        "sample": sample,
    }


def _gpu(facts: dict[str, Any], jetson: dict[str, Any] | None) -> dict[str, Any] | None:
    if "gpu_name" in facts:
        return {"kind": "discrete", "name": facts["gpu_name"],
                "driver": facts.get("driver_version"),
                "cuda_driver": facts.get("cuda_driver_version")}
    if jetson is not None:
        return {"kind": "integrated", "name": "Jetson integrated GPU",
                "devfreq": facts.get("gpu_devfreq"),
                "telemetry_from": facts.get("jetson_backend")}
    return None
