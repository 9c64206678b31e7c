"""How long a run will take, from earlier runs of the same suite on the same device.

The bundles of earlier runs carry their wall time and point count in the footer; the median
seconds per point of the newest few, times the points planned, is the estimate. Nothing is
guessed where no earlier run matches.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeprobe.bundle import BundleError, read_bundle
from edgeprobe.bundle.reader import read_header

NEWEST_RUNS = 5
SCANNED_FILES = 40


@dataclass(frozen=True)
class Estimate:
    seconds: float
    runs: int  # earlier runs it comes from


def device_label(device: dict[str, Any]) -> str:
    """The name runs show for a device (a GPU's name, or the CPU with its threads)."""
    return device.get("name") or f"CPU ({device.get('threads')} threads)"


def _newest(folders: Iterable[Path]) -> list[Path]:
    paths = {path.resolve() for folder in folders if folder.is_dir()
             for path in folder.glob("*.epb")}
    return sorted(paths, key=lambda p: p.stat().st_mtime, reverse=True)[:SCANNED_FILES]


def _seconds_per_point(path: Path, suite: str, device: str, dtype: str) -> float | None:
    try:
        # The header says whether the run is one to learn from; only those are read whole.
        header = read_header(path)
        if ((header.get("suite") or {}).get("name") != suite
                or device_label(header.get("device") or {}) != device
                or (header.get("settings") or {}).get("dtype") != dtype):
            return None
        bundle = read_bundle(path)
    except (BundleError, OSError):
        return None
    footer = bundle.footer or {}
    if footer.get("status") != "completed" or bundle.sessions != 1:
        return None
    points = len([p for p in bundle.points if not p.get("search")])
    seconds = footer.get("duration_s")
    return seconds / points if points and isinstance(seconds, int | float) else None


def from_earlier_runs(folders: Iterable[Path], suite: str, device: str, dtype: str,
                      points: int, exclude: Path | None = None) -> Estimate | None:
    skip = exclude.resolve() if exclude else None
    rates: list[float] = []
    for path in _newest(folders):
        if path == skip:
            continue
        rate = _seconds_per_point(path, suite, device, dtype)
        if rate is not None:
            rates.append(rate)
            if len(rates) == NEWEST_RUNS:
                break
    return Estimate(statistics.median(rates) * points, len(rates)) if rates else None
