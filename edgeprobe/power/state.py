"""The power state a result was measured in (read only; switching lives in its own module)."""

from __future__ import annotations

from typing import Any

from edgeprobe.power import nvpmodel
from edgeprobe.telemetry.nvml import query_gpu


def current_power_state() -> dict[str, Any]:
    """``{"mode": name or None, "source": where it was read, ...}``."""
    config = nvpmodel.read_config()
    if config is not None:
        mode_id = nvpmodel.current_mode_id()
        mode = config.by_id(mode_id) if mode_id is not None else None
        return {
            "mode": mode.name if mode else None,
            "mode_id": mode_id,
            "source": "nvpmodel",
            "modes": [m.name for m in config.modes],
        }
    state: dict[str, Any] = {"mode": None, "source": "none (not a Jetson)"}
    limit = query_gpu(lambda nvml, gpu: nvml.nvmlDeviceGetEnforcedPowerLimit(gpu) / 1000.0)
    if limit is not None:
        state.update(mode=f"power-limit {limit:.0f} W", source="nvml", power_limit_w=limit)
    return state
