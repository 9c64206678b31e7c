"""Tables as plain lines for a given width, never cutting a value.

Aligned columns when they fit; else the columns marked droppable go, one by one; else
one block per row under its first column's value, ``header: value`` items wrapped between
items. An item longer than a line is wrapped at its spaces, never inside a word, a path or a
number. No Rich, no boxes: the lines read the same on a terminal, in a pipe and in a file.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

GAP = "  "


@dataclass
class Grid:
    title: str
    headers: list[str]
    rows: list[list[str]]
    right_aligned: set[int] = field(default_factory=set)
    droppable: Sequence[int] = ()  # columns that may go when too wide, first to go first
    notes: list[str] = field(default_factory=list)


def _wrap(text: str, width: int, indent: str = "") -> list[str]:
    return textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False)


def wrap_items(items: list[str], width: int, indent: str = "  ",
               hanging: str = "    ") -> list[str]:
    """Items joined by "; ", wrapped between items."""
    lines: list[str] = []
    current = ""
    for item in items:
        lead = indent if not lines and not current else hanging
        candidate = f"{current}; {item}" if current else f"{lead}{item}"
        if current and len(candidate) + 1 > width:  # room for the ";" a next item adds
            lines.append(current + ";")
            current = ""
            candidate = f"{hanging}{item}"
        if len(candidate) + 1 > width:
            pieces = _wrap(candidate, width - 1, hanging)
            lines += pieces[:-1]
            candidate = pieces[-1]
        current = candidate
    if current:
        lines.append(current)
    return lines


def _aligned(grid: Grid, keep: list[int], width: int) -> list[str] | None:
    widths = {i: max([len(grid.headers[i]), *(len(row[i]) for row in grid.rows)])
              for i in keep}
    if sum(widths.values()) + len(GAP) * (len(keep) - 1) > width:
        return None

    def line(cells: list[str]) -> str:
        return GAP.join(cells[i].rjust(widths[i]) if i in grid.right_aligned
                        else cells[i].ljust(widths[i]) for i in keep).rstrip()

    return [line(grid.headers), *(line(row) for row in grid.rows)]


def _blocks(grid: Grid, width: int) -> list[str]:
    lines: list[str] = []
    group = None
    for row in grid.rows:
        if row[0] != group:
            group = row[0]
            lines.append(f"{grid.headers[0]} {group}")
        lines += wrap_items([f"{header}: {cell}" for header, cell
                             in zip(grid.headers[1:], row[1:], strict=True)
                             if cell not in ("", "-")], width)
    return lines


def layout(grid: Grid, width: int = 80) -> list[str]:
    lines = _wrap(grid.title, width) if grid.title else []
    keep = list(range(len(grid.headers)))
    body = _aligned(grid, keep, width)
    for column in grid.droppable:
        if body is not None:
            break
        keep.remove(column)
        body = _aligned(grid, keep, width)
    lines += body if body is not None else _blocks(grid, width)
    for note in grid.notes:
        lines += _wrap(f"note: {note}", width, "  ")
    return lines
