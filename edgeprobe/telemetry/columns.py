"""What a telemetry column holds, from its name: the unit suffix says the quantity.

Columns are named ``<what>_<unit>`` (``gpu_power_w``, ``gpu_temp_c``, ``ram_used_bytes``);
readers that group or label them ask here instead of spelling the suffixes again.
"""

from __future__ import annotations

import math
from typing import Any

# suffix -> (group, unit as printed); the first suffix that matches wins
SUFFIXES: tuple[tuple[str, str, str], ...] = (
    ("_power_avg_w", "power", "W"),
    ("_w", "power", "W"),
    ("_c", "temperature", "°C"),
    ("_mhz", "clock", "MHz"),
    ("_pct", "load", "%"),
    ("_bytes", "memory", "B"),
    ("_j", "energy", "J"),
)
SKIPPED = ("monotonic_s", "unix_s")
# Words a column name repeats from its group ("gpu_power_w" is power already).
GROUP_WORDS = frozenset({"power", "temp", "clock", "load", "util", "energy"})


def kind(column: str) -> tuple[str, str] | None:
    """(group, unit) of a column, or None for a column that is not a reading."""
    if column in SKIPPED:
        return None
    for suffix, group, unit in SUFFIXES:
        if column.endswith(suffix):
            return group, unit
    return None


def source_words(column: str) -> list[str]:
    """What a reading is of, without its unit and group: ``gpu_power_avg_w`` -> gpu, avg;
    ``rail_vdd_in_power_w`` -> rail, vdd, in; ``zone_tj_thermal_temp_c`` -> zone, tj,
    thermal."""
    words = [w for w in column.rsplit("_", 1)[0].split("_") if w not in GROUP_WORDS]
    return words or [column]


def readings(sample: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The sample's numeric readings by group: ``{"power": {"gpu_power_w": 35.2}, ...}``;
    missing values (NaN, None) are left out."""
    grouped: dict[str, dict[str, float]] = {}
    for column, value in sorted(sample.items()):
        what = kind(column)
        if what is None or not isinstance(value, int | float) or isinstance(value, bool):
            continue
        if isinstance(value, float) and math.isnan(value):
            continue
        grouped.setdefault(what[0], {})[column] = float(value)
    return grouped
