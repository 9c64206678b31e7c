"""Thermal zones (``/sys/class/thermal/thermal_zone*/{type,temp}``, milli-degrees C)."""

from __future__ import annotations

from dataclasses import dataclass

from edgeprobe import sysroot


@dataclass(frozen=True)
class ZoneReading:
    name: str
    temp_c: float


def read_zones() -> list[ZoneReading]:
    readings = []
    for zone in sysroot.glob_paths("/sys/class/thermal/thermal_zone*"):
        milli = sysroot.read_int(f"{zone}/temp")
        # Disabled zones read as large negatives or fail; keep physically plausible values.
        if milli is None or not -40_000 <= milli <= 150_000:
            continue
        name = sysroot.read_text(f"{zone}/type") or zone.rsplit("/", 1)[-1]
        readings.append(ZoneReading(name=name, temp_c=milli / 1000.0))
    return readings
