"""Bundles measured on one host at the same time.

Launch-bound decode is paced by the host, and runs that overlapped on one host slowed each
other. Runs now record it per point (``concurrent_runs``); for every bundle, older ones too,
the points' times (``started_unix_s``, ``wall_s``) and the host's facts tell it afterwards:
this finds the points of each compared bundle that ran while another one's run was going.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from edgeprobe.bundle.reader import Bundle

# Points of one run closer than this belong to one stretch of it (a model load, a search or a
# cool-down lies between them); a longer silence is a run stopped and resumed later.
ACTIVE_GAP_S = 120.0


def _host_key(host: dict[str, Any]) -> tuple[Any, ...] | None:
    """Name, OS and CPU model: the header's host is its first session's, and a resumed run
    may go on on a larger machine of the same kind, so its size is left out."""
    if not host.get("hostname"):
        return None
    return (host.get("hostname"), host.get("os"), host.get("cpu"))


def _windows(bundle: Bundle) -> list[tuple[float, float]]:
    windows = []
    for point in bundle.all_points:
        start, wall = point.get("started_unix_s"), point.get("wall_s")
        if isinstance(start, (int, float)) and isinstance(wall, (int, float)):
            windows.append((float(start), float(start) + max(float(wall), 0.0)))
    return sorted(windows)


def _spans(windows: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The stretches a run was measuring: its points' windows, joined across short gaps."""
    spans: list[list[float]] = []
    for start, end in windows:
        if spans and start - spans[-1][1] <= ACTIVE_GAP_S:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    return [(a, b) for a, b in spans]


def _overlapping(windows: list[tuple[float, float]], spans: list[tuple[float, float]]) -> int:
    return sum(any(start < b and a < end for a, b in spans) for start, end in windows)


def overlap_warnings(labels: list[str], bundles: list[Bundle]) -> list[str]:
    """One warning for each pair of bundles whose runs measured on one host at once."""
    facts = []
    for label, bundle in zip(labels, bundles, strict=True):
        windows = _windows(bundle)
        facts.append((label, _host_key(bundle.header.get("host") or {}), windows,
                      _spans(windows)))
    warnings = []
    for (a, host_a, windows_a, spans_a), (b, host_b, windows_b, spans_b) in combinations(facts, 2):
        if host_a is None or host_a != host_b:
            continue
        in_a, in_b = _overlapping(windows_a, spans_b), _overlapping(windows_b, spans_a)
        if in_a or in_b:
            warnings.append(
                f"{a} and {b} were measured on one host ({host_a[0]}) at the same time: "
                f"{in_a} of the {len(windows_a)} measured points of {a} and {in_b} of the "
                f"{len(windows_b)} of {b} ran while the other run was going, which slows "
                "launch-bound decode")
    return warnings
