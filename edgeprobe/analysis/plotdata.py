"""The series a comparison plot draws: one per bundle, model and implementation."""

from __future__ import annotations

from dataclasses import dataclass, field

from edgeprobe.analysis.compare import SPREADS, Comparison

# (row key, axis title, scale to display units, display unit)
METRICS = {
    "ttft_s": ("TTFT", 1.0, "s"),
    "peak_bytes": ("Peak memory", 1.0 / 1024**3, "GiB"),
    "prefill_energy_per_token_j": ("Prefill energy per token", 1e3, "mJ"),
    "decode_energy_per_token_j": ("Decode energy per token", 1e3, "mJ"),
}


@dataclass
class Series:
    label: str
    bundle: str
    model: str
    implementation: str
    family: str
    lengths_tokens: list[int]
    values: list[float]  # in the display unit of the metric
    # Interquartile range of each value, same unit; None where the metric has no spread.
    spreads: list[float | None] = field(default_factory=list)


def series_label(comparison: Comparison, bundle: str, model: str, implementation: str) -> str:
    label = model if implementation == "hf" else f"{model} [{implementation}]"
    return f"{label} · {bundle}" if len(comparison.bundles) > 1 else label


def metric_series(comparison: Comparison, metric: str) -> list[Series]:
    """Points with status ok and a value for ``metric``, per bundle/model/implementation."""
    _, scale, _ = METRICS[metric]
    found: dict[tuple[str, str, str], Series] = {}
    for row in comparison.rows:
        value = row.get(metric)
        if row.get("status") != "ok" or not isinstance(value, (int, float)) or value <= 0:
            continue
        key = (row["bundle"], row["model"], row["implementation"])
        entry = found.get(key)
        if entry is None:
            entry = found[key] = Series(series_label(comparison, *key), *key,
                                        row.get("family") or "?", [], [])
        entry.lengths_tokens.append(row["length_tokens"])
        entry.values.append(value * scale)
        spread = row.get(SPREADS[metric]) if metric in SPREADS else None
        entry.spreads.append(spread * scale if isinstance(spread, int | float) else None)
    return [found[k] for k in sorted(found)]


def share_bars(comparison: Comparison) -> tuple[list[str], list[str], list[list[float]]]:
    """(bar labels, categories, shares per bar in category order) for profiled points."""
    categories = sorted({c for row in comparison.category_shares
                         for c in row["category_shares"]})
    labels, shares = [], []
    for row in comparison.category_shares:
        name = series_label(comparison, row["bundle"], row.get("model") or "?",
                            row.get("implementation") or "hf")
        labels.append(f"{name} @ {row.get('length_tokens')}")
        shares.append([row["category_shares"].get(c, 0.0) for c in categories])
    return labels, categories, shares
