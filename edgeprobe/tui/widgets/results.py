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

COLUMNS = (("model", "model"), ("tokens", "len"), ("ttft_all", "TTFT all"),
           ("ttft_last", "TTFT last"), ("tpot", "TPOT"), ("tpot_cold", "cold"),
           ("peak", "peak mem"), ("status", "status"))
_SHORT_VARIANT = {"published": "all", "lean": "last"}
_VARIANT_ORDER = {"published": 0, "lean": 1}  # as the TTFT columns


def status_text(row: SummaryRow) -> Text:
    bad = {v: s for v, s in row.statuses.items() if s != "ok"}
    if not bad:
        return Text("ok")
    parts = [f"{'OOM' if s == 'oom' else 'skip' if s == 'skipped' else s} "
             f"{_SHORT_VARIANT.get(v, v)}"
             for v, s in sorted(bad.items(), key=lambda vs: _VARIANT_ORDER.get(vs[0], 9))]
    worst = "bold" if any(s not in ("skipped",) for s in bad.values()) else "dim"
    return Text(", ".join(parts), style=worst)


def row_cells(row: SummaryRow) -> list[Any]:
    peak = row.peak_lean_bytes if row.peak_lean_bytes is not None else row.peak_published_bytes
    model = row.model if row.implementation == "hf" else f"{row.model}/{row.implementation}"
    return [model, format_tokens(row.length_tokens), short_seconds(row.ttft_published_s),
            short_seconds(row.ttft_lean_s), short_seconds(row.tpot_s),
            short_seconds(row.tpot_cold_s), short_bytes(peak), status_text(row)]


class ResultsTable(DataTable):
    """One row per (model, implementation, length); a new point updates only its row."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
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
            self.add_row(*cells, key=key)
            self.move_cursor(row=self.row_count - 1, animate=False)
