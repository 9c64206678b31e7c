"""Results table, filled as points arrive: TTFT (both prefill variants), TPOT (warm, and the
cold pass beside it) and peak memory per model and prompt length; failures such as OOM
spelled out in the status column."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from edgeprobe.analysis.summary import SummaryRow, summarize
from edgeprobe.tui.widgets.panel import short_bytes, short_seconds
from edgeprobe.units import format_tokens

# Two-line labels keep each column as narrow as its figures, and the status comes right after
# the model and length, so at 80 columns nothing that names a row is cut.
COLUMNS = (("model", "model"), ("tokens", "len"), ("status", "status\nall/last"),
           ("ttft_all", "TTFT\nall"), ("ttft_last", "TTFT\nlast"), ("tpot", "TPOT\nwarm"),
           ("tpot_cold", "TPOT\ncold"), ("peak", "peak\nmem"))
VARIANTS = ("published", "lean")  # the "all" and "last" of the TTFT and status columns
_SHORT_STATUS = {"oom": "OOM", "skipped": "skip"}


def _word(status: str | None) -> str:
    return "-" if status is None else _SHORT_STATUS.get(status, status)


def status_text(row: SummaryRow) -> Text:
    """``ok`` or ``OOM`` when both variants agree, else one word each: ``skip/OOM`` (all,
    last; ``-`` for one not measured). Bold where a point failed, dim where only skipped."""
    words = [_word(row.statuses.get(v)) for v in VARIANTS]
    words += [_word(s) for v, s in sorted(row.statuses.items()) if v not in VARIANTS]
    measured = {w for w in words if w != "-"}
    text = measured.pop() if len(measured) == 1 else "/".join(words)
    bad = {s for s in row.statuses.values() if s != "ok"}
    style = "" if not bad else "dim" if bad == {"skipped"} else "bold"
    return Text(text, style=style)


def row_cells(row: SummaryRow) -> list[Any]:
    peak = row.peak_lean_bytes if row.peak_lean_bytes is not None else row.peak_published_bytes
    model = row.model if row.implementation == "hf" else f"{row.model}/{row.implementation}"
    return [model, format_tokens(row.length_tokens), status_text(row),
            short_seconds(row.ttft_published_s), short_seconds(row.ttft_lean_s),
            short_seconds(row.tpot_s), short_seconds(row.tpot_cold_s), short_bytes(peak)]


class ResultsTable(DataTable):
    """One row per (model, implementation, length); a new point updates only its row. A new
    row moves the cursor to it only when the cursor was on the last row: a reader who moved
    up stays where they are."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, header_height=2, **kwargs)
        self._points: dict[str, list[dict[str, Any]]] = {}

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def clear_points(self) -> None:
        self._points.clear()
        self.clear()

    def add_point(self, record: dict[str, Any]) -> None:
        if record.get("search") or "model" not in record or "length_tokens" not in record:
            return
        key = f"{record['model']}|{record.get('implementation', 'hf')}|{record['length_tokens']}"
        points = self._points.setdefault(key, [])
        points.append(record)
        summary = summarize(points)
        if not summary:
            return
        cells = row_cells(summary[0])
        if key in self.rows:
            for (column, _), value in zip(COLUMNS, cells, strict=True):
                self.update_cell(key, column, value, update_width=True)
        else:
            following = self.cursor_row >= self.row_count - 1
            self.add_row(*cells, key=key)
            if following:
                self.move_cursor(row=self.row_count - 1, animate=False)
