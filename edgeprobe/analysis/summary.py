"""A run's summary: one row per model and length, both prefill variants side by side."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgeprobe.analysis.figures import figures


@dataclass
class SummaryRow:
    model: str
    implementation: str
    family: str
    kernel_path: str | None
    length_tokens: int
    ttft_published_s: float | None = None
    ttft_lean_s: float | None = None
    ttft_published_iqr_s: float | None = None
    ttft_lean_iqr_s: float | None = None
    tpot_s: float | None = None  # warm pass (eager where it ran, else graph)
    tpot_iqr_s: float | None = None
    tpot_cold_s: float | None = None
    tpot_graph_s: float | None = None
    # Per variant (and "decode"): the device was busy for less than half of the pass.
    launch_bound: dict[str, bool] = field(default_factory=dict)
    attention_backend: str | None = None
    peak_published_bytes: int | None = None
    peak_lean_bytes: int | None = None
    cache_bytes: int | None = None
    prefill_energy_j: float | None = None  # one prefill pass (last-position where measured)
    decode_energy_per_token_j: float | None = None
    statuses: dict[str, str] = field(default_factory=dict)  # variant -> status
    throttle_reasons: set[str] = field(default_factory=set)  # seen in any of its points
    shared_host: bool = False  # another edgeprobe run measured on the host meanwhile

    @property
    def status(self) -> str:
        bad = {v: s for v, s in self.statuses.items() if s != "ok"}
        text = "ok" if not bad else ", ".join(f"{s} ({v})" for v, s in sorted(bad.items()))
        if self.throttle_reasons:
            text += f", throttled ({', '.join(sorted(self.throttle_reasons))})"
        if self.shared_host:
            text += ", shared host"
        return text


def summarize(points: list[dict[str, Any]]) -> list[SummaryRow]:
    rows: dict[tuple[str, str, int], SummaryRow] = {}
    for point in points:
        if point.get("search"):
            continue
        key = (point["model"], point.get("implementation", "hf"), point["length_tokens"])
        row = rows.get(key)
        if row is None:
            row = rows[key] = SummaryRow(point["model"], key[1], point.get("family", "?"),
                                         point.get("kernel_path"), point["length_tokens"])
        variant = point.get("variant", "published")
        row.statuses[variant] = point.get("status", "?")
        if point.get("throttled"):
            thermal = point.get("thermal") or {}
            row.throttle_reasons.update(thermal.get("verdict_reasons") or ["yes"])
        row.shared_host |= (point.get("concurrent_runs") or 0) > 0
        if point.get("status") != "ok":
            continue
        row.kernel_path = row.kernel_path or point.get("kernel_path")
        fig = figures(point)
        if variant == "published":
            row.ttft_published_s, row.peak_published_bytes = fig["ttft_s"], fig["peak_bytes"]
            row.ttft_published_iqr_s = fig["ttft_iqr_s"]
            if row.prefill_energy_j is None:
                row.prefill_energy_j = fig.get("prefill_energy_j")
        else:
            row.ttft_lean_s, row.peak_lean_bytes = fig["ttft_s"], fig["peak_bytes"]
            row.ttft_lean_iqr_s = fig["ttft_iqr_s"]
            if fig.get("prefill_energy_j") is not None:
                row.prefill_energy_j = fig["prefill_energy_j"]
        if fig.get("decode_energy_per_token_j") is not None:
            row.decode_energy_per_token_j = fig["decode_energy_per_token_j"]
        if fig["prefill_launch_bound"] is not None:
            row.launch_bound[variant] = fig["prefill_launch_bound"]
        if fig["tpot_s"] is not None:
            row.tpot_s, row.tpot_iqr_s = fig["tpot_s"], fig["tpot_iqr_s"]
            row.tpot_cold_s, row.tpot_graph_s = fig["tpot_cold_s"], fig["tpot_graph_s"]
            if fig["decode_launch_bound"] is not None:
                row.launch_bound["decode"] = fig["decode_launch_bound"]
        row.attention_backend = row.attention_backend or fig["attention_backend"]
        row.cache_bytes = fig["cache_bytes"] if fig["cache_bytes"] is not None else row.cache_bytes
    return sorted(rows.values(), key=lambda r: (r.model, r.implementation, r.length_tokens))
