"""A comparison as display tables (text cells), shared by the terminal and Markdown output."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgeprobe.analysis.compare import Comparison
from edgeprobe.analysis.crossover import Crossover
from edgeprobe.analysis.maxctx import MaxContext
from edgeprobe.units import format_bytes, format_seconds, format_spread_percent, format_tokens

VARIANT_LABEL = {"published": "all-position logits", "lean": "last-position logits"}
VARIANT_SHORT = {"published": "all-logits", "lean": "last-logit"}
THROTTLED_MARK = "throttled"
SHARED_HOST_MARK = "shared host"


@dataclass
class TextTable:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    # Row indexes that start a new group (drawn as a separator in the terminal).
    section_starts: set[int] = field(default_factory=set)
    right_aligned: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)  # lines shown under the table


def _number(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _energy(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1e3:.3g} mJ" if value < 1 else f"{value:.3g} J"


def _with_ratio(text: str, ratio: float | None, show: bool, tie: bool | None = None) -> str:
    """``text (1.23x)``, or ``text (tie)`` where the two bundles' spreads overlap."""
    if not show or ratio is None or text == "-":
        return text
    return f"{text} (tie)" if tie else f"{text} ({ratio:.2f}x)"


def _kernel_text(path: str | None) -> str:
    return path or "-"


def row_status(row: dict[str, Any]) -> str:
    """A compared row's status with the conditions that qualify its figures."""
    status = row["status"] or "?"
    if row.get("throttled"):
        status += f", {THROTTLED_MARK}"
    if row.get("shared_host"):
        status += f", {SHARED_HOST_MARK}"
    return status


def bundles_table(comparison: Comparison) -> TextTable:
    table = TextTable("Bundles", ["bundle", "device", "power mode", "suite", "budget", "dtype",
                                  "software", "points"], right_aligned={7})
    for info in comparison.bundles:
        label = info.label + (" (baseline)" if info.label == comparison.baseline else "")
        software = " ".join(f"{k} {v}" for k, v in info.software.items()
                            if v and k in ("torch", "transformers", "mamba_ssm", "jetpack"))
        suite = f"{info.suite or '?'} {(info.suite_sha256 or '')[:8]}".strip()
        points = f"{info.points}" + ("" if info.complete else " (incomplete)")
        table.rows.append([label, f"{info.device} [{info.device_kind}]", info.power_mode or "n/a",
                           suite, format_bytes(info.memory_budget_bytes)
                           if info.memory_budget_bytes else "none", info.dtype or "?",
                           software or "-", points])
    return table


def _spread_cell(key: str, spread_key: str, bound_key: str) -> Callable[[dict[str, Any]], str]:
    def cell(row: dict[str, Any]) -> str:
        text = format_spread_percent(row.get(key), row.get(spread_key))
        return text + ("*" if row.get(bound_key) else "")
    return cell


def _plain(key: str, fmt: Callable[[Any], str]) -> Callable[[dict[str, Any]], str]:
    return lambda row: fmt(row.get(key))


_METRICS: list[tuple[str, str, Callable[[dict[str, Any]], str]]] = [
    ("TTFT", "ttft_s", _spread_cell("ttft_s", "ttft_iqr_s", "prefill_launch_bound")),
    ("TPOT", "tpot_s", _spread_cell("tpot_s", "tpot_iqr_s", "decode_launch_bound")),
    ("TPOT cold", "tpot_cold_s", _plain("tpot_cold_s", format_seconds)),
    ("TPOT graph", "tpot_graph_s", _plain("tpot_graph_s", format_seconds)),
    ("tokens/s", "throughput_tokens_per_s", _plain("throughput_tokens_per_s", _number)),
    ("peak mem", "peak_bytes", _plain("peak_bytes", format_bytes)),
    ("prefill J/token", "prefill_energy_per_token_j",
     _plain("prefill_energy_per_token_j", _energy)),
    ("decode J/token", "decode_energy_per_token_j", _plain("decode_energy_per_token_j", _energy)),
]


def figures_table(comparison: Comparison) -> TextTable:
    """Aligned figures per model and length, one line per bundle; columns nobody measured
    (e.g. energy in older bundles) are left out."""
    metrics = [m for m in _METRICS if any(r.get(m[1]) is not None for r in comparison.rows)]
    show_ratio = comparison.baseline is not None
    title = f"Figures ({VARIANT_LABEL[comparison.variant]} prefill"
    title += f"; (x) = value / {comparison.baseline})" if show_ratio else ")"
    headers = ["model", "impl", "tokens", "bundle", *(m[0] for m in metrics), "status"]
    table = TextTable(title, headers, right_aligned=set(range(2, 2 + 2 + len(metrics))) - {3})
    previous = None
    for row in comparison.rows:
        group = (row["model"], row["implementation"])
        if group != previous:
            table.section_starts.add(len(table.rows))
        status = row_status(row)
        cells = [row["model"] if group != previous else "",
                 row["implementation"] if group != previous else "",
                 format_tokens(row["length_tokens"]), row["bundle"]]
        ratio_shown = show_ratio and row["bundle"] != comparison.baseline
        cells += [_with_ratio(cell(row), row.get(f"{key}_ratio"), ratio_shown,
                              row.get(f"{key}_tie"))
                  for _, key, cell in metrics]
        table.rows.append([*cells, status])
        previous = group
    return table


def _speedup(value: tuple[float, int] | None) -> str:
    return "-" if value is None else f"{value[0]:.2f}x at {format_tokens(value[1])}"


def crossover_table(items: list[Crossover], variant: str) -> TextTable:
    table = TextTable(f"Crossover: where SSM/hybrid TTFT drops below the Transformer's "
                      f"({VARIANT_LABEL[variant]} prefill)",
                      ["bundle", "transformer", "vs", "family", "crossover",
                       "transformer faster by", "SSM/hybrid faster by"])
    for item in items:
        table.rows.append([item.bundle, item.transformer.removesuffix("/hf"),
                           item.other.removesuffix("/hf"), item.other_family, item.describe(),
                           _speedup(item.transformer_speedup), _speedup(item.other_speedup)])
    return table


def max_context_text(item: MaxContext) -> tuple[str, str]:
    if item.max_ok_tokens is None:
        best = "none fitted"
    else:
        best = (">= " if item.lower_bound else "") + f"{item.max_ok_tokens:,}"
    fail = "-" if item.first_fail_tokens is None \
        else f"{item.first_fail_tokens:,} ({item.fail_status})"
    return best, fail


def max_context_table(items: list[MaxContext]) -> TextTable:
    table = TextTable("Max context (largest prompt that fitted)",
                      ["bundle", "model", "impl", "prefill", "max tokens", "stopped by",
                       "first failure", "from", "budget", "peak at max"], right_aligned={4, 9})
    for item in items:
        best, fail = max_context_text(item)
        table.rows.append([item.bundle, item.model, item.implementation,
                           VARIANT_SHORT.get(item.variant, item.variant), best,
                           item.limit or "-", fail, item.source,
                           format_bytes(item.memory_budget_bytes)
                           if item.memory_budget_bytes else "none",
                           format_bytes(item.peak_bytes_at_max)])
    table.notes = [f"{item.bundle} {item.model} {VARIANT_SHORT.get(item.variant, item.variant)}: "
                   f"{item.limit_detail}" for item in items if item.limit_detail]
    return table


def report_tables(comparison: Comparison) -> list[TextTable]:
    tables = [bundles_table(comparison), figures_table(comparison)]
    if comparison.crossovers:
        tables.append(crossover_table(comparison.crossovers, comparison.variant))
    if comparison.max_context:
        tables.append(max_context_table(comparison.max_context))
    return tables


NOTES = ("TTFT: median prefill time ± half its interquartile range (as a share of it); "
         "TPOT: decode time per token of the warm pass after the last-position prefill "
         "(cold: the first pass over new KV lengths; graph: CUDA-graph decode); * launch-bound "
         "(device busy under half the pass); (tie): the two bundles' spreads overlap; "
         "tokens/s: (prompt + generated) / (TTFT + decode time); peak mem: CUDA "
         "reserved (GPU) or resident set (CPU); J/token: energy of the phase window / its "
         "tokens. 'throttled': the device reported throttling during the point.")
SHARED_HOST_NOTE = (" 'shared host': another edgeprobe run measured on the same host at the "
                    "time, which slows launch-bound decode.")


def notes_for(comparison: Comparison) -> str:
    """The notes under a comparison, with the shared-host one where a row carries it."""
    shared = any(row.get("shared_host") for row in comparison.rows)
    return NOTES + (SHARED_HOST_NOTE if shared else "")
