"""Writes a comparison as a terminal report, Markdown, CSV (the aligned figures) or JSON."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from rich.console import Console
from rich.markup import escape

from edgeprobe.analysis.compare import Comparison
from edgeprobe.analysis.compare_text import bundle_lines, figure_lines, table_lines
from edgeprobe.analysis.report import TextTable, notes_for, report_tables

FORMATS = ("term", "md", "csv", "json")


def print_terminal(console: Console, comparison: Comparison) -> None:
    """Every section as lines fitted to the terminal's width (``compare_text``)."""
    width = max(60, console.width)
    for line in bundle_lines(comparison, width):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    for warning in comparison.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    for line in figure_lines(comparison, width):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    for table in report_tables(comparison)[2:]:
        for line in table_lines(table, width):
            console.print(line, highlight=False, markup=False, soft_wrap=True)
    for note in comparison.notes:
        console.print(f"note: {escape(note)}", highlight=False)
    console.print(f"[dim]{escape(notes_for(comparison))}[/]", highlight=False)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|") or " "


def markdown_table(table: TextTable, level: int = 3) -> str:
    lines = [f"{'#' * level} {table.title}", "",
             "| " + " | ".join(_md_cell(h) for h in table.headers) + " |",
             "|" + "|".join("---:" if i in table.right_aligned else "---"
                            for i in range(len(table.headers))) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    if table.notes:
        lines += ["", *(f"- {note}" for note in table.notes)]
    return "\n".join(lines) + "\n"


def to_markdown(comparison: Comparison, level: int = 3) -> str:
    tables = report_tables(comparison)
    parts = [markdown_table(tables[0], level)]
    if comparison.warnings:
        parts.append("\n".join(f"- **warning:** {w}" for w in comparison.warnings) + "\n")
    parts += [markdown_table(t, level) for t in tables[1:]]
    if comparison.notes:
        parts.append("\n".join(f"- note: {n}" for n in comparison.notes) + "\n")
    parts.append(f"_{notes_for(comparison)}_\n")
    return "\n".join(parts)


def to_csv(comparison: Comparison) -> str:
    """The aligned figures, one line per bundle, model, implementation and length, raw units."""
    buffer = io.StringIO()
    fields: list[str] = []
    for row in comparison.rows:
        fields += [k for k in row if k not in fields]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in comparison.rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def to_json(comparison: Comparison) -> str:
    return json.dumps(_json_safe(comparison.as_dict()), indent=2, default=str)
