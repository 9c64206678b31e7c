"""Thermal zones (``/sys/class/thermal/thermal_zone*/{type,temp}``, milli-degrees C)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from edgeprobe import sysroot
from edgeprobe.telemetry.base import NAN, Metric, Source, SysFile, gauge, read_sys_number

ZONES_GLOB = "/sys/class/thermal/thermal_zone*"
MAX_COLUMN = "zones_max_temp_c"


@dataclass(frozen=True)
class ZoneReading:
    name: str
    temp_c: float


def plausible_c(milli: float | None) -> bool:
    # Disabled zones read as large negatives (e.g. -256000) or fail; keep plausible values.
    return milli is not None and -40_000 <= milli <= 150_000


def read_zones() -> list[ZoneReading]:
    readings = []
    for zone in sysroot.glob_paths(ZONES_GLOB):
        milli = sysroot.read_int(f"{zone}/temp")
        if not plausible_c(milli):
            continue
        name = sysroot.read_text(f"{zone}/type") or zone.rsplit("/", 1)[-1]
        readings.append(ZoneReading(name=name, temp_c=milli / 1000.0))  # type: ignore[operator]
    return readings


def column_name(zone_type: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", zone_type.lower()).strip("_") or "zone"
    return f"zone_{slug}_temp_c"


@dataclass(frozen=True)
class _Zone:
    file: SysFile
    sensor: str  # "<type> (thermal_zoneN)": unique even where two zones share a type
    column: str


class ThermalSource(Source):
    """Every readable thermal zone as ``zone_<type>_temp_c``, and their maximum."""

    name = "thermal"

    def __init__(self) -> None:
        super().__init__()
        self._zones: list[_Zone] = []

    def open(self) -> list[Metric]:
        used: set[str] = set()
        for zone in sysroot.glob_paths(ZONES_GLOB):
            zone_type = sysroot.read_text(f"{zone}/type") or zone.rsplit("/", 1)[-1]
            column = column_name(zone_type)
            if column in used:  # two zones of one type: tell them apart by zone number
                column = column.replace("_temp_c", f"_{zone.rsplit('zone', 1)[-1]}_temp_c")
            sensor = f"{zone_type} ({zone.rsplit('/', 1)[-1]})"
            milli, why = read_sys_number(f"{zone}/temp")
            if milli is None:
                self.unavailable(sensor, why or "no reading")
                continue
            used.add(column)
            self._zones.append(_Zone(SysFile(f"{zone}/temp"), sensor, column))
            state = "" if plausible_c(milli) else f" (now {milli:.0f}: disabled or out of range)"
            self.ok(sensor, f"{zone}/temp -> {column}{state}")
        if not self._zones:
            self.unavailable("zones", f"no readable {ZONES_GLOB}/temp")
            return []
        return [gauge(z.column) for z in self._zones] + [gauge(MAX_COLUMN)]

    def read(self, values: dict[str, float]) -> None:
        hottest = NAN
        for zone in self._zones:
            if self.is_lost(zone.sensor):
                continue
            milli, why = zone.file.number()
            if milli is None:
                self.lose(zone.sensor, why or "no reading")
                continue
            temp_c = milli / 1000.0 if plausible_c(milli) else NAN
            values[zone.column] = temp_c
            if not math.isnan(temp_c) and (math.isnan(hottest) or temp_c > hottest):
                hottest = temp_c
        values[MAX_COLUMN] = hottest
