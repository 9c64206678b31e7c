"""The power limit of a discrete NVIDIA GPU through NVML (setting it needs root).

Without root, NVML refuses to set it; edgeprobe then runs ``nvidia-smi -i N -pl W`` through
``sudo -n``, which a sudo rule allows for the agent's service user (install/ writes it). That
command takes whole watts.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from edgeprobe.power.programs import PowerControlError, find, run_privileged

NEEDS_ROOT = "setting the GPU power limit needs root: run edgeprobe with sudo"


@dataclass(frozen=True)
class PowerLimit:
    current_w: float
    default_w: float
    min_w: float
    max_w: float


class NvmlPowerLimit:
    def __init__(self, index: int = 0) -> None:
        try:
            import pynvml
        except ImportError:
            raise PowerControlError("nvidia-ml-py is not installed: pip install "
                                    "'edgeprobe[probe]'") from None
        self._nvml = pynvml
        self.index = index
        try:
            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        except pynvml.NVMLError as exc:
            raise PowerControlError(f"NVML not usable here: {exc}") from None

    def read(self) -> PowerLimit:
        nvml, handle = self._nvml, self._handle
        try:
            low, high = nvml.nvmlDeviceGetPowerManagementLimitConstraints(handle)
            return PowerLimit(
                current_w=nvml.nvmlDeviceGetPowerManagementLimit(handle) / 1000.0,
                default_w=nvml.nvmlDeviceGetPowerManagementDefaultLimit(handle) / 1000.0,
                min_w=low / 1000.0, max_w=high / 1000.0)
        except nvml.NVMLError as exc:
            raise PowerControlError(f"this GPU does not report its power limit ({exc})") from None

    def check(self, watts: float) -> PowerLimit:
        limits = self.read()
        if not limits.min_w <= watts <= limits.max_w:
            raise PowerControlError(f"power limit {watts:g} W is outside what this GPU accepts "
                                    f"({limits.min_w:g}-{limits.max_w:g} W)")
        return limits

    def check_permission(self) -> None:
        """Set the limit to the value already in force: changes nothing, and tells whether
        this process may set it at all (NVML answers NO_PERMISSION without root)."""
        self.set(self.read().current_w)

    def set(self, watts: float) -> None:
        nvml = self._nvml
        try:
            nvml.nvmlDeviceSetPowerManagementLimit(self._handle, round(watts * 1000))
        except nvml.NVMLError_NoPermission:
            self._set_through_sudo(watts)
        except nvml.NVMLError as exc:
            raise PowerControlError(f"NVML refused power limit {watts:g} W: {exc}") from None
        now = self.read().current_w
        if abs(now - watts) > 1.0:
            raise PowerControlError(f"asked for a {watts:g} W power limit but it reads back "
                                    f"as {now:g} W")

    def _set_through_sudo(self, watts: float) -> None:
        if find("nvidia-smi") is None or (os.geteuid() != 0 and find("sudo") is None):
            raise PowerControlError(NEEDS_ROOT)
        try:
            result = run_privileged("nvidia-smi", "-i", str(self.index), "-pl",
                                    str(round(watts)))
        except PowerControlError:
            result = None
        if result is None or result.returncode != 0:
            raise PowerControlError(f"{NEEDS_ROOT}, or allow `sudo -n nvidia-smi -i "
                                    f"{self.index} -pl WATTS` (install/install.sh does)")

    def close(self) -> None:
        with contextlib.suppress(self._nvml.NVMLError):
            self._nvml.nvmlShutdown()
