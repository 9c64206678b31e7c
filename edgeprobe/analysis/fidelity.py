"""Fidelity reports: edgeprobe's figures against a plain loop's, with spread and ratio.

The samples come from one worker process (``probe.fidelity``); this module turns them into
medians, interquartile ranges and ratios, and renders them. No torch.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from edgeprobe.stats import spread, within_noise
from edgeprobe.units import format_spread, format_tokens

FORMAT = "edgeprobe-fidelity"
VERSION = 2  # 2: ratio is the median of per-round ratios
METRIC_LABELS = {"ttft_published": "TTFT all", "ttft_lean": "TTFT last",
                 "tpot_cold": "TPOT cold", "tpot_warm": "TPOT warm"}


def side_summary(samples: list[float]) -> dict[str, Any] | None:
    if not samples:
        return None
    stats = spread(samples)
    return {"median_s": stats.median_s, "iqr_s": stats.iqr_s, "q1_s": stats.q1_s,
            "q3_s": stats.q3_s, "min_s": stats.min_s, "max_s": stats.max_s,
            "samples_s": list(samples)}


def metric_summary(bare: list[float], edgeprobe: list[float]) -> dict[str, Any]:
    """Both sides' medians and spreads, and the ratio edgeprobe / plain loop.

    Sample ``i`` of each side comes from round ``i``, where the two sides ran back to back.
    ``ratio`` is the median of these per-round ratios: on a shared host, slow and fast spells
    last longer than a round and move both sides of a round alike, so pairing cancels them
    where a ratio of the two medians would keep them. ``within_noise``: with three or more
    rounds, 1 lies inside the per-round ratios' interquartile range; with fewer, the two
    medians lie within their combined spread. ``ratio_of_medians`` is kept beside it, and
    ``ratio_of_minimums``: each side's best pass, the figure least touched by a busy host."""
    plain, ours = side_summary(bare), side_summary(edgeprobe)
    result: dict[str, Any] = {"bare": plain, "edgeprobe": ours, "ratio": None,
                              "ratio_of_medians": None, "ratio_of_minimums": None,
                              "round_ratios": None,
                              "within_noise": None}
    if not (plain and ours and plain["median_s"] > 0):
        return result
    result["ratio_of_medians"] = ours["median_s"] / plain["median_s"]
    if plain["min_s"] > 0:
        result["ratio_of_minimums"] = ours["min_s"] / plain["min_s"]
    pairs = [(b, e) for b, e in zip(bare, edgeprobe, strict=False) if b > 0]
    if not pairs:
        return result
    ratios = [e / b for b, e in pairs]
    paired = spread(ratios)
    result.update(ratio=paired.median_s, round_ratios=ratios,
                  ratio_q1=paired.q1_s, ratio_q3=paired.q3_s)
    if len(ratios) >= 3:
        result["within_noise"] = paired.q1_s <= 1.0 <= paired.q3_s
    else:
        result["within_noise"] = within_noise(ours["median_s"], ours["iqr_s"],
                                              plain["median_s"], plain["iqr_s"])
    return result


def result_entry(identity: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
    """One model, implementation and length: identity, status and per-metric summaries."""
    entry = {**identity, "status": reply.get("status", "error"), "error": reply.get("error")}
    samples = reply.get("samples_s")
    if entry["status"] == "ok" and isinstance(samples, dict):
        entry["metrics"] = {name: metric_summary(sides.get("bare", []),
                                                 sides.get("edgeprobe", []))
                            for name, sides in samples.items()}
        for key in ("prefill_path", "decode_prefill_path", "decode_prompt_tokens"):
            entry[key] = reply.get(key)
    return entry


@dataclass
class FidelityReport:
    command: list[str]
    device: dict[str, Any]
    software: dict[str, Any]
    settings: dict[str, Any]
    results: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "command": self.command,
                "device": self.device, "software": self.software, "settings": self.settings,
                "results": self.results}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, default=str)


def _figure(side: dict[str, Any] | None) -> str:
    return format_spread(side["median_s"], side["iqr_s"]) if side else "-"


def _ratio(metric: dict[str, Any]) -> str:
    ratio = metric.get("ratio")
    if ratio is None:
        return "-"
    return f"{ratio:.3f}" + (" tie" if metric.get("within_noise") else "")


def _optional(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.3f}"


def _rows(report: FidelityReport) -> Iterator[tuple[dict[str, Any], str | None,
                                                   dict[str, Any] | None]]:
    """(result, metric, summary) per measured metric; (result, None, None) for a failure."""
    for entry in report.results:
        if entry["status"] != "ok":
            yield entry, None, None
            continue
        for metric, summary in entry["metrics"].items():
            if summary["bare"]:
                yield entry, metric, summary


def text_lines(report: FidelityReport) -> list[str]:
    """The report as fixed-width lines (74 columns): one line per model, length and metric;
    figures are median ± half the interquartile range."""
    device = report.device.get("name") or f"CPU ({report.device.get('threads')} threads)"
    lines = textwrap.wrap(f"fidelity on {device}: plain loop vs edgeprobe in one process, "
                          f"{report.settings.get('rounds')} prefill and "
                          f"{report.settings.get('decode_rounds')} decode rounds", 80)
    lines += [f"{'model':<22} {'tokens':>6}  {'metric':<9} {'plain loop':>12} "
              f"{'edgeprobe':>12}  ratio"]
    for entry, metric, summary in _rows(report):
        name = entry["model"] + ("" if entry["implementation"] == "hf"
                                 else f"/{entry['implementation']}")
        tokens = format_tokens(entry["length_tokens"])
        if metric is None or summary is None:
            lines.append(f"{name:<22} {tokens:>6}  {entry['status']}: {entry.get('error')}")
            continue
        lines.append(f"{name:<22} {tokens:>6}  {METRIC_LABELS.get(metric, metric):<9} "
                     f"{_figure(summary['bare']):>12} {_figure(summary['edgeprobe']):>12}"
                     f"  {_ratio(summary)}")
    lines += textwrap.wrap("ratio = edgeprobe / plain loop, median over rounds (each round times "
                           "both back to back); tie: 1 lies within the rounds' quartiles", 80)
    return lines


def markdown(report: FidelityReport) -> str:
    """The report as a Markdown table with the command that made it."""
    device = report.device.get("name") or "CPU"
    software = ", ".join(f"{k} {v}" for k, v in report.software.items()
                         if v and k in ("torch", "cuda", "cudnn", "transformers", "mamba_ssm",
                                        "causal_conv1d"))
    rows = ["| model | impl | tokens | metric | plain loop (median ± IQR/2) "
            "| edgeprobe (median ± IQR/2) | ratio (median of rounds) | best-pass ratio "
            "| within noise |",
            "|---|---|---:|---|---:|---:|---:|---:|---|"]
    for entry, metric, summary in _rows(report):
        identity = f"| {entry['model']} | {entry['implementation']} | {entry['length_tokens']:,}"
        if metric is None or summary is None:
            rows.append(f"{identity} | {entry['status']} | {entry.get('error')} | | | | |")
            continue
        rows.append(f"{identity} | {METRIC_LABELS.get(metric, metric)} | "
                    f"{_figure(summary['bare'])} | {_figure(summary['edgeprobe'])} | "
                    f"{summary['ratio']:.3f} | {_optional(summary.get('ratio_of_minimums'))} | "
                    f"{'yes' if summary['within_noise'] else 'no'} |")
    header = [f"Device: {device}. Software: {software}.",
              f"Settings: {json.dumps(report.settings, sort_keys=True)}.",
              "", "Command: `" + " ".join(report.command) + "`", ""]
    return "\n".join(header + rows) + "\n"
