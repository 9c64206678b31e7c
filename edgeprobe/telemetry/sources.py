"""Which sources a machine gets: NVML (discrete GPUs), Jetson (jtop or sysfs), host, thermal,
RAPL, and the torch allocator where torch is loaded."""

from __future__ import annotations

from typing import Any

from edgeprobe.telemetry.base import Metric, SensorStatus, Source
from edgeprobe.telemetry.cuda_alloc import TorchAllocatorSource
from edgeprobe.telemetry.host import HostSource
from edgeprobe.telemetry.jetson import JetsonSysfsSource
from edgeprobe.telemetry.jtop_source import JtopSource
from edgeprobe.telemetry.nvml import NvmlSource
from edgeprobe.telemetry.platform import is_jetson
from edgeprobe.telemetry.rapl import RaplSource
from edgeprobe.telemetry.thermal import ThermalSource


class JetsonSource(Source):
    """jtop when its service is reachable (rails, GPU), sysfs for everything else.

    When jtop cannot be reached, the sysfs source reads the rails and GPU too, and the
    report keeps jtop's ``unavailable: why`` so the user can see what fell back and why.
    """

    name = "jetson"

    def __init__(self, use_jtop: bool = True) -> None:
        super().__init__()
        self.use_jtop = use_jtop
        self.jtop = JtopSource()
        self.sysfs: JetsonSysfsSource | None = None

    def open(self) -> list[Metric]:
        metrics = self.jtop.open() if self.use_jtop else []
        if not self.use_jtop:
            self.jtop.unavailable("service", "jtop not asked for")
        self.sysfs = JetsonSysfsSource(power_and_gpu=not metrics)
        return metrics + self.sysfs.open()

    @property
    def backend(self) -> str:
        return "jtop" if self.sysfs is not None and not self.sysfs.power_and_gpu else "sysfs"

    def read(self, values: dict[str, float]) -> None:
        if self.backend == "jtop":
            self.jtop.read(values)
        if self.sysfs is not None:
            self.sysfs.read(values)

    def statuses(self) -> list[SensorStatus]:
        return self.jtop.statuses() + (self.sysfs.statuses() if self.sysfs else [])

    def take_notices(self) -> list[str]:
        return self.jtop.take_notices() + (self.sysfs.take_notices() if self.sysfs else [])

    def facts(self) -> dict[str, Any]:
        facts = self.sysfs.facts() if self.sysfs else {}
        return {**facts, "jetson_backend": self.backend}

    def close(self) -> None:
        self.jtop.close()


def default_sources(gpu: int | str = 0, use_jtop: bool = True) -> list[Source]:
    """Every source that may work here; each reports for itself what does not."""
    jetson = is_jetson()
    sources: list[Source] = [NvmlSource(gpu)]
    if jetson:
        sources.append(JetsonSource(use_jtop=use_jtop))
    sources += [HostSource(unified_memory=jetson), ThermalSource(), RaplSource(),
                TorchAllocatorSource(gpu if isinstance(gpu, int) else 0)]
    return sources
