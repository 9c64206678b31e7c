"""A comparison's bundles and figures as plain lines that fit a terminal's width.

Bundles get a letter (A, B, ...) and their full label once, in the bundles section; figure
lines name a bundle by its letter, so no identifier is ever cut. Figures are grouped by model
and implementation, one line per prompt length and bundle; a column that nobody measured is
left out, and the optional ones (graph decode, energy, throughput) only come in while the
line still fits.
"""

from __future__ import annotations

import string
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgeprobe.analysis.compare import Comparison
from edgeprobe.analysis.report import VARIANT_LABEL, TextTable, row_status
from edgeprobe.analysis.textlayout import Grid, layout
from edgeprobe.units import (
    format_bytes_compact,
    format_seconds_compact,
    format_spread_percent,
    format_tokens,
)


def letters(comparison: Comparison) -> dict[str, str]:
    """Bundle label -> A, B, ... Z, then AA, AB, ..."""
    names = list(string.ascii_uppercase)
    names += [a + b for a in string.ascii_uppercase for b in string.ascii_uppercase]
    return {b.label: names[i] for i, b in enumerate(comparison.bundles)}


def bundle_lines(comparison: Comparison, width: int = 80) -> list[str]:
    marks = letters(comparison)
    lines = ["Bundles"]
    for info in comparison.bundles:
        label = info.label + (" (baseline)" if info.label == comparison.baseline else "")
        software = " ".join(f"{k} {v}" for k, v in info.software.items()
                            if v and k in ("torch", "transformers", "mamba_ssm", "jetpack"))
        budget = format_bytes_compact(info.memory_budget_bytes) \
            if info.memory_budget_bytes else "none"
        detail = (f"{info.device} [{info.device_kind}], power mode {info.power_mode or 'n/a'}, "
                  f"suite {info.suite or '?'} {(info.suite_sha256 or '')[:8]}, budget {budget}, "
                  f"{info.dtype or '?'}, {software or 'software ?'}, {info.points} points"
                  + ("" if info.complete else " (incomplete)"))
        lines.append(f"{marks[info.label]:>2}  {label}")
        lines += textwrap.wrap(detail, width, initial_indent="    ", subsequent_indent="    ",
                               break_on_hyphens=False)
    return lines + device_lines(comparison, width)


def device_lines(comparison: Comparison, width: int = 80) -> list[str]:
    """With bundles from more than one device or power mode: each device, its power modes
    and the bundles (by letter) of each, the way a lab reads a cross-device comparison."""
    groups: dict[str, dict[str, list[str]]] = {}
    marks = letters(comparison)
    for info in comparison.bundles:
        modes = groups.setdefault(info.device, {})
        modes.setdefault(info.power_mode or "n/a", []).append(marks[info.label])
    if sum(len(modes) for modes in groups.values()) < 2:
        return []
    lines = ["Devices"]
    for device, modes in sorted(groups.items()):
        text = f"{device}: " + ", ".join(f"{mode} ({', '.join(found)})"
                                        for mode, found in sorted(modes.items()))
        lines += textwrap.wrap(text, width, initial_indent="  ", subsequent_indent="    ",
                               break_on_hyphens=False, break_long_words=False)
    return lines


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[dict[str, Any], bool], str]  # (row, show ratio) -> text
    key: str  # the figure it shows: left out when no row has it


def _ratio(row: dict[str, Any], key: str, show: bool) -> str:
    ratio = row.get(f"{key}_ratio")
    if not show or ratio is None:
        return ""
    return "tie" if row.get(f"{key}_tie") else f"{ratio:.2f}x"


def _spread(key: str, spread: str, bound: str) -> Callable[[dict[str, Any], bool], str]:
    def cell(row: dict[str, Any], show: bool) -> str:
        text = format_spread_percent(row.get(key), row.get(spread))
        text += "*" if row.get(bound) else ""
        ratio = _ratio(row, key, show and text != "-")
        return f"{text} {ratio}".rstrip()
    return cell


def _plain(key: str, fmt: Callable[[Any], str],
           ratio: bool = False) -> Callable[[dict[str, Any], bool], str]:
    def cell(row: dict[str, Any], show: bool) -> str:
        text = fmt(row.get(key))
        return f"{text} {_ratio(row, key, ratio and show and text != '-')}".rstrip()
    return cell


def _energy(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value * 1e3:.3g}mJ" if value < 1 else f"{value:.3g}J"


# The columns every terminal shows where measured (ratios on TTFT, TPOT and peak memory; the
# CSV and JSON formats carry every ratio), then the optional ones while they fit.
BASE = [
    Column("TTFT", _spread("ttft_s", "ttft_iqr_s", "prefill_launch_bound"), "ttft_s"),
    Column("TPOT", _spread("tpot_s", "tpot_iqr_s", "decode_launch_bound"), "tpot_s"),
    Column("cold", _plain("tpot_cold_s", format_seconds_compact), "tpot_cold_s"),
    Column("peak", _plain("peak_bytes", format_bytes_compact, ratio=True), "peak_bytes"),
]
OPTIONAL = [
    Column("graph", _plain("tpot_graph_s", format_seconds_compact), "tpot_graph_s"),
    Column("pJ/tok", _plain("prefill_energy_per_token_j", _energy),
           "prefill_energy_per_token_j"),
    Column("dJ/tok", _plain("decode_energy_per_token_j", _energy),
           "decode_energy_per_token_j"),
    Column("tok/s", _plain("throughput_tokens_per_s",
                           lambda v: "-" if v is None else f"{v:,.0f}"),
           "throughput_tokens_per_s"),
]
_LEAD = 2 + 6 + 2 + 2  # indent, tokens, bundle letter
_STATUS_MIN = 6


def _cells(comparison: Comparison, column: Column) -> list[str]:
    return [column.cell(row, comparison.baseline is not None
                        and row["bundle"] != comparison.baseline) for row in comparison.rows]


def _columns(comparison: Comparison, width: int) -> list[tuple[Column, list[str], int]]:
    """(column, its cell per row, its width) of the columns shown."""
    chosen = []
    used = _LEAD + _STATUS_MIN
    for column in [*BASE, *OPTIONAL]:
        if not any(comparison.rows) or all(r.get(column.key) is None for r in comparison.rows):
            continue
        cells = _cells(comparison, column)
        size = max(len(column.header), *(len(c) for c in cells))
        if column in OPTIONAL and used + size + 2 > width:
            continue
        chosen.append((column, cells, size))
        used += size + 2
    return chosen


def figure_lines(comparison: Comparison, width: int = 80) -> list[str]:
    marks = letters(comparison)
    columns = _columns(comparison, width)
    title = f"Figures ({VARIANT_LABEL[comparison.variant]} prefill"
    if comparison.baseline:
        title += f"; ratio = value / {marks[comparison.baseline]}, tie: within the spread"
    lines = textwrap.wrap(title + ")", width)
    lines.append(f"  {'tokens':>6}  {'':>2}" + "".join(f"  {c.header:<{size}}"
                                                       for c, _, size in columns) + "  status")
    group = None
    for index, row in enumerate(comparison.rows):
        if (row["model"], row["implementation"]) != group:
            group = (row["model"], row["implementation"])
            lines.append(row["model"] + ("" if row["implementation"] == "hf"
                                         else f"/{row['implementation']}"))
        status = row_status(row)
        cells = "".join(f"  {cells[index]:<{size}}" for _, cells, size in columns)
        line = f"  {format_tokens(row['length_tokens']):>6}  {marks[row['bundle']]:>2}{cells}"
        if len(line) + 2 + len(status) <= width:
            lines.append(f"{line}  {status}")
        else:  # a long status goes on a line of its own rather than past the edge
            lines += [line.rstrip(), f"{'':>12}status: {status}"]
    return lines



def table_lines(table: TextTable, width: int = 80) -> list[str]:
    """A report table laid out for ``width`` columns (see ``textlayout``)."""
    return layout(Grid(table.title, table.headers, table.rows, table.right_aligned,
                       notes=table.notes), width)
