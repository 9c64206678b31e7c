#!/usr/bin/env python3
"""The tables of docs/results/fidelity-h200.md, made from `edgeprobe fidelity --out` reports.

    python benchmarks/fidelity_summary.py docs/results/fidelity-h200-qwen.json \\
        docs/results/fidelity-h200-mamba2.json

Every ratio is computed again from the stored samples with edgeprobe's own analysis, so
reports written by older versions read the same way. Prints Markdown: one line per
criterion of the timing check (TTFT within 3 % at 8K and above, warm TPOT within 5 % at
every length), then each report's full table with its command.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgeprobe.analysis.fidelity import (  # noqa: E402
    METRIC_LABELS,
    FidelityReport,
    markdown,
    metric_summary,
)

TTFT_TOLERANCE = 0.03
TPOT_TOLERANCE = 0.05
LONG_TOKENS = 8192


def load(path: Path) -> FidelityReport:
    document = json.loads(path.read_text())
    results = []
    for entry in document["results"]:
        entry = dict(entry)
        if entry.get("status") == "ok":
            entry["metrics"] = {
                name: metric_summary(m["bare"]["samples_s"], m["edgeprobe"]["samples_s"])
                for name, m in entry["metrics"].items() if m.get("bare") and m.get("edgeprobe")}
        results.append(entry)
    return FidelityReport(document["command"], document["device"], document["software"],
                          document["settings"], results)


def _checks(entry: dict[str, Any]) -> list[tuple[str, str, float]]:
    """(criterion, metric, tolerance) that apply to one model, implementation and length."""
    checks = [("warm TPOT within 5 %", "tpot_warm", TPOT_TOLERANCE)]
    if entry["length_tokens"] >= LONG_TOKENS:
        checks += [("TTFT within 3 % (8K and above)", metric, TTFT_TOLERANCE)
                   for metric in ("ttft_published", "ttft_lean")]
    return checks


def criteria_rows(reports: dict[str, FidelityReport]) -> list[str]:
    rows = ["| criterion | report | model | impl | tokens | metric | ratio | best-pass ratio "
            "| rounds | met |", "|---|---|---|---|---:|---|---:|---:|---:|---|"]
    for name, report in reports.items():
        for entry in report.results:
            if entry.get("status") != "ok":
                continue
            for criterion, metric, tolerance in _checks(entry):
                summary = entry["metrics"].get(metric)
                if not summary or summary["ratio"] is None:
                    continue
                best = summary.get("ratio_of_minimums")
                rows.append(
                    f"| {criterion} | {name} | {entry['model']} | {entry['implementation']} "
                    f"| {entry['length_tokens']:,} | {METRIC_LABELS[metric]} "
                    f"| {summary['ratio']:.3f} | {'-' if best is None else f'{best:.3f}'} "
                    f"| {len(summary['round_ratios'])} "
                    f"| {'yes' if abs(summary['ratio'] - 1) <= tolerance else '**no**'} |")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path)
    args = parser.parse_args()
    reports = {path.name: load(path) for path in args.reports}
    lines = ["## Criteria", "", *criteria_rows(reports), ""]
    for name, report in reports.items():
        lines += [f"## {name}", "", markdown(report)]
    print("\n".join(lines).rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
