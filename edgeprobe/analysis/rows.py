"""Point records as flat rows for comparison and export: figures, energy, provenance.

Builds on ``figures.flat_point`` and adds what comparisons need: throughput, energy per
pass and per token for each phase, throttling and temperatures.
"""

from __future__ import annotations

from typing import Any

from edgeprobe.analysis.energy import energy_figures
from edgeprobe.analysis.figures import decode_sections, flat_point

FAILED_STATUSES = frozenset({"oom", "kernel_error", "crashed", "timeout", "error"})


def throttled(point: dict[str, Any]) -> bool | None:
    """True/False where the point says whether the device throttled, else None (unknown)."""
    value = point.get("throttled")
    return value if isinstance(value, bool) else None


def _temperature_c(snapshot: Any) -> float | None:
    if not isinstance(snapshot, dict):
        return None
    # Runs record gpu_temp_c / zones_max_temp_c; bundles of 0.1.0's first runs gpu_c / max_zone_c.
    for key in ("gpu_temp_c", "zones_max_temp_c", "gpu_c", "max_zone_c"):
        value = snapshot.get(key)
        if isinstance(value, (int, float)):
            return float(value)
    return None


def point_row(point: dict[str, Any]) -> dict[str, Any]:
    """One point as a flat row (every key present, None where the bundle has no value)."""
    eager, graph = decode_sections(point)
    decode = eager or graph
    row = flat_point(point)
    row["implementation"] = row["implementation"] or "hf"
    row["variant"] = row["variant"] or "published"
    row.update(
        decode_tokens=decode.get("tokens"),
        decode_tokens_per_s=decode.get("decode_tokens_per_s"),
        cache_bytes_after_decode=decode.get("cache_bytes_after"),
        **energy_figures(point),
        throttled=throttled(point),
        temp_before_c=_temperature_c(point.get("thermal_before")),
        temp_after_c=_temperature_c(point.get("thermal_after")),
        wall_s=point.get("wall_s"),
        started_unix_s=point.get("started_unix_s"),
    )
    return row


def sweep_points(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The points of the sweep proper (max-context search trials left out)."""
    return [p for p in points if not p.get("search") and isinstance(p.get("length_tokens"), int)
            and p.get("model")]
