"""Comparison of bundles: aligned figures per model and length, ratios against a baseline
bundle, crossovers, max context and provenance warnings. Pure data; rendering is elsewhere."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeprobe.analysis.crossover import Crossover, crossovers
from edgeprobe.analysis.kernel_records import share_rows
from edgeprobe.analysis.maxctx import MaxContext, max_contexts
from edgeprobe.analysis.overlap import overlap_warnings
from edgeprobe.analysis.provenance import (
    BundleInfo,
    bundle_info,
    bundle_labels,
    launch_bound_notes,
    provenance_warnings,
)
from edgeprobe.analysis.rows import point_row, sweep_points
from edgeprobe.bundle import read_bundle
from edgeprobe.bundle.reader import Bundle
from edgeprobe.errors import UsageError
from edgeprobe.stats import within_noise

VARIANTS = ("lean", "published")
# Figures compared across bundles; each gets a ``<name>_ratio`` (value / baseline value).
COMPARED = ("ttft_s", "tpot_s", "tpot_cold_s", "tpot_graph_s", "throughput_tokens_per_s",
            "peak_bytes", "prefill_energy_per_token_j", "decode_energy_per_token_j")
# Figures with a spread (``<name>`` and ``<spread>``): their ratios inside the combined
# spread of both bundles are ties (``<name>_tie``), not speed-ups.
SPREADS = {"ttft_s": "ttft_iqr_s", "tpot_s": "tpot_iqr_s"}
_DECODE_FIGURES = ("tpot_s", "tpot_iqr_s", "tpot_cold_s", "tpot_graph_s", "tpot_method",
                   "decode_launch_bound", "throughput_tokens_per_s",
                   "decode_energy_per_token_j", "decode_mean_power_w")


@dataclass
class Comparison:
    bundles: list[BundleInfo]
    baseline: str | None  # label of the baseline bundle (None with a single bundle)
    variant: str  # prefill variant of TTFT, peak memory and crossovers
    rows: list[dict[str, Any]] = field(default_factory=list)
    crossovers: list[Crossover] = field(default_factory=list)
    max_context: list[MaxContext] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. launch-bound points
    # Profiled points: identity and ``category_shares`` (category -> fraction of device time).
    category_shares: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "baseline": self.baseline,
            "bundles": [b.as_dict() for b in self.bundles],
            "warnings": self.warnings,
            "notes": self.notes,
            "rows": self.rows,
            "crossovers": [c.as_dict() for c in self.crossovers],
            "max_context": [m.as_dict() for m in self.max_context],
            "category_shares": self.category_shares,
        }


def resolve_baseline(spec: str | None, labels: list[str], paths: list[str]) -> str | None:
    """The label of the bundle named by ``--baseline`` (label, path, file name or stem)."""
    if spec is None:
        return labels[0] if labels else None
    for label, path in zip(labels, paths, strict=True):
        if spec in (label, path, Path(path).name, Path(path).stem) \
                or os.path.abspath(spec) == os.path.abspath(path):
            return label
    raise UsageError(f"--baseline {spec!r} is none of the compared bundles "
                     f"({', '.join(labels)})")


def _aligned_row(label: str, rows: list[dict[str, Any]], variant: str) -> dict[str, Any] | None:
    """One bundle's row for one model, implementation and length."""
    chosen = next((r for r in rows if r["variant"] == variant), None)
    if chosen is None:
        return None
    decoded = next((r for r in rows if r.get("tpot_s") is not None), chosen)
    row = {
        "model": chosen["model"], "implementation": chosen["implementation"],
        "family": chosen["family"], "length_tokens": chosen["length_tokens"],
        "variant": variant, "bundle": label, "status": chosen["status"],
        "error": chosen["error"], "kernel_path": chosen["kernel_path"],
        "device": chosen["device"], "power_mode": chosen["power_mode"],
        "throttled": True if any(r.get("throttled") for r in rows)
        else (False if any(r.get("throttled") is False for r in rows) else None),
        "shared_host": any((r.get("concurrent_runs") or 0) > 0 for r in rows),
        "ttft_s": chosen["ttft_s"], "ttft_iqr_s": chosen["ttft_iqr_s"],
        "prefill_launch_bound": chosen["prefill_launch_bound"],
        "attention_backend": chosen["attention_backend"], "peak_bytes": chosen["peak_bytes"],
        "cache_bytes": chosen["cache_bytes"],
        "prefill_energy_j": chosen["prefill_energy_j"],
        "prefill_energy_per_token_j": chosen["prefill_energy_per_token_j"],
        "prefill_mean_power_w": chosen["prefill_mean_power_w"],
        "energy_source": chosen["energy_source"] or decoded["energy_source"],
    }
    row.update({name: decoded.get(name) for name in _DECODE_FIGURES})
    return row


def _ratio(value: Any, base: Any) -> float | None:
    if not isinstance(value, (int, float)) or not isinstance(base, (int, float)) or base <= 0:
        return None
    return value / base


def compare(bundles: Sequence[Bundle], labels: Sequence[str] | None = None,
            baseline: str | None = None, variant: str = "lean") -> Comparison:
    """Compare bundles already read. ``baseline`` names one of them (label, path or file name;
    default: the first); ``variant`` is the prefill variant to compare (``lean`` or
    ``published``)."""
    if variant not in VARIANTS:
        raise UsageError(f"unknown prefill variant {variant!r}: use lean or published")
    paths = [str(b.path) for b in bundles]
    labels = list(labels) if labels is not None else bundle_labels(paths)
    base_label = resolve_baseline(baseline, labels, paths)
    infos = [bundle_info(label, bundle) for label, bundle in zip(labels, bundles, strict=True)]
    result = Comparison(bundles=infos, baseline=base_label if len(labels) > 1 else None,
                        variant=variant, warnings=provenance_warnings(infos),
                        notes=launch_bound_notes(infos))
    grouped: dict[tuple[str, str, int], dict[str, list[dict[str, Any]]]] = {}
    for label, bundle in zip(labels, bundles, strict=True):
        rows = [point_row(p) for p in sweep_points(bundle.points)]
        if rows and not any(r["variant"] == variant for r in rows):
            other = next(v for v in VARIANTS if v != variant)
            result.warnings.append(f"{label} has no {variant} prefill points: compare with "
                                   f"--variant {other}")
        for row in rows:
            key = (row["model"], row["implementation"], row["length_tokens"])
            grouped.setdefault(key, {}).setdefault(label, []).append(row)
        result.crossovers.extend(crossovers(label, rows, variant))
        result.max_context.extend(max_contexts(label, bundle))
        result.category_shares.extend(share_rows(label, bundle.of_type("kernels")))
    result.warnings += overlap_warnings(labels, list(bundles))
    for key in sorted(grouped):
        by_bundle = grouped[key]
        aligned = {label: _aligned_row(label, by_bundle[label], variant)
                   for label in labels if label in by_bundle}
        base = aligned.get(base_label) if result.baseline else None
        for label in labels:
            row = aligned.get(label)
            if row is None:
                continue
            for name in COMPARED:
                row[f"{name}_ratio"] = _ratio(row[name], base[name]) if base else None
            for name, spread in SPREADS.items():
                row[f"{name}_tie"] = (within_noise(row[name], row[spread], base[name],
                                                   base[spread]) if base else None)
            result.rows.append(row)
    return result


def compare_files(paths: Sequence[str | os.PathLike[str]], baseline: str | None = None,
                  variant: str = "lean") -> Comparison:
    """Read and compare bundle files (a file that is not a readable bundle raises
    ``BundleError`` with one line saying why)."""
    if not paths:
        raise UsageError("compare needs at least one bundle")
    return compare([read_bundle(p) for p in paths], baseline=baseline, variant=variant)
