"""CPU package energy from RAPL (``/sys/class/powercap/intel-rapl:N``, Intel and AMD).

``energy_uj`` wraps at ``max_energy_range_uj``; this source unwraps it into joules counted
since the sampler opened. Since Linux 5.10 the file is readable by root only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from edgeprobe import sysroot
from edgeprobe.telemetry.base import (
    FLOAT64,
    NAN,
    Metric,
    Source,
    SysFile,
    gauge,
    is_readable_error,
    permission_fix,
    read_sys,
    read_sys_number,
)

POWERCAP_GLOB = "/sys/class/powercap/intel-rapl:*"
ENERGY_COLUMN = "cpu_package_energy_j"
POWER_COLUMN = "cpu_package_power_w"


@dataclass
class _Domain:
    file: SysFile
    name: str
    range_uj: float
    last_uj: float


class RaplSource(Source):
    """Sum of the package domains' energy counters, and the power between two samples."""

    name = "rapl"

    def __init__(self) -> None:
        super().__init__()
        self._domains: list[_Domain] = []
        self._energy_j = 0.0
        self._last_t: float | None = None

    def open(self) -> list[Metric]:
        # Top-level domains only (intel-rapl:0); intel-rapl:0:0 (core, uncore, dram) nest inside.
        packages = [p for p in sysroot.glob_paths(POWERCAP_GLOB) if p.count(":") == 1]
        if not packages:
            self.unavailable("package_energy", "no RAPL powercap domains "
                             "(/sys/class/powercap/intel-rapl:*): not an Intel/AMD CPU, "
                             "or the intel_rapl_common module is not loaded",
                             fix="sudo modprobe intel_rapl_msr")
            return []
        for package in packages:
            name = (read_sys(f"{package}/name")[0] or package.rsplit("/", 1)[-1])
            energy, why = read_sys_number(f"{package}/energy_uj")
            if energy is None:
                path = f"{package}/energy_uj"
                fix = permission_fix(path) if is_readable_error(why) else None
                self.unavailable(name, why or "no reading", fix)
                continue
            range_uj, _ = read_sys_number(f"{package}/max_energy_range_uj")
            self._domains.append(_Domain(SysFile(f"{package}/energy_uj"), name, range_uj or 0.0,
                                         energy))
            self.ok(name, f"{package}/energy_uj")
        if not self._domains:
            return []
        return [Metric(ENERGY_COLUMN, FLOAT64, counter=True), gauge(POWER_COLUMN)]

    def read(self, values: dict[str, float]) -> None:
        added_j = 0.0
        for domain in self._domains:
            if self.is_lost(domain.name):
                continue
            energy, why = domain.file.number()
            if energy is None:
                self.lose(domain.name, why or "no reading")
                continue
            delta = energy - domain.last_uj
            if delta < 0:  # the counter wrapped
                delta += domain.range_uj
            domain.last_uj = energy
            added_j += max(delta, 0.0) / 1e6
        if all(self.is_lost(d.name) for d in self._domains):
            return
        now = time.monotonic()
        self._energy_j += added_j
        values[ENERGY_COLUMN] = self._energy_j
        elapsed = now - self._last_t if self._last_t is not None else 0.0
        values[POWER_COLUMN] = added_j / elapsed if elapsed > 0 else NAN
        self._last_t = now

    def facts(self) -> dict[str, object]:
        return {"rapl_domains": [d.name for d in self._domains]}
