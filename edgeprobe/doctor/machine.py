"""What kind of machine doctor is looking at: a Jetson, a computer with an NVIDIA GPU, or
neither. Read from the sensor root only, so that it does not depend on torch or NVML working:
those are what the checks examine."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from edgeprobe import sysroot
from edgeprobe.telemetry.platform import is_jetson, jetson_model, l4t_release

JETSON = "jetson"
GPU = "gpu"
CPU = "cpu"

NVIDIA_DRIVER_FILE = "/proc/driver/nvidia/version"


@dataclass(frozen=True)
class Machine:
    kind: str  # jetson | gpu | cpu
    description: str
    jetson_model: str | None = None
    l4t: str | None = None
    jetpack: str | None = None
    nvidia_driver: str | None = None

    @property
    def has_gpu(self) -> bool:
        return self.kind in (JETSON, GPU)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def nvidia_driver_version() -> str | None:
    """The loaded NVIDIA kernel driver's version (desktop and server GPUs), else None."""
    text = sysroot.read_text(NVIDIA_DRIVER_FILE)
    if text is None:
        return None
    match = re.search(r"Kernel Module.*?\s(\d+\.\d+(?:\.\d+)?)\s", text)
    return match.group(1) if match else "unknown"


def detect_machine() -> Machine:
    if is_jetson():
        release = l4t_release() or {}
        model = jetson_model()
        parts = [model or "Jetson"]
        if release.get("l4t"):
            parts.append(f"L4T {release['l4t']}")
        if release.get("jetpack"):
            parts.append(f"JetPack {release['jetpack']}")
        return Machine(JETSON, ", ".join(parts), jetson_model=model, l4t=release.get("l4t"),
                       jetpack=release.get("jetpack"))
    driver = nvidia_driver_version()
    if driver is not None:
        return Machine(GPU, f"NVIDIA driver {driver}", nvidia_driver=driver)
    return Machine(CPU, "no NVIDIA GPU (no driver loaded, not a Jetson)")
