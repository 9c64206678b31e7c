"""Per-kernel latency of the latest profiled point: its top kernels and a bar per operator
category. Reads ``kernels`` records tolerantly (see edgeprobe.analysis.kernel_records)."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive, var
from textual.widgets import DataTable

from edgeprobe.analysis.kernel_records import category_shares, kernel_table
from edgeprobe.tui.widgets.panel import TextPanel, bar, short_seconds
from edgeprobe.units import format_seconds, format_tokens

TOP_KERNELS = 12
NAME_WIDTH = 24
BAR_WIDTH = 8


def _number(row: dict[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = row.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def _total_s(row: dict[str, Any]) -> float | None:
    seconds = _number(row, "total_s", "device_total_s", "self_device_total_s")
    if seconds is None:
        micro = _number(row, "total_us", "device_total_us")
        seconds = micro / 1e6 if micro is not None else None
    return seconds


def top_kernels(record: dict[str, Any], limit: int = TOP_KERNELS) -> list[dict[str, Any]]:
    """The table's rows by total time, largest first, with ``share`` filled in where absent."""
    rows = kernel_table(record)
    totals = [_total_s(r) for r in rows]
    grand = sum(t for t in totals if t is not None)
    ranked = []
    for row, total in zip(rows, totals, strict=True):
        share = _number(row, "share")
        if share is None and total is not None and grand > 0:
            share = total / grand
        calls = _number(row, "calls", "count")
        mean = _number(row, "mean_s")
        if mean is None and total is not None and calls:
            mean = total / calls
        ranked.append({"name": str(row.get("name") or "?"),
                       "category": str(row.get("category") or "other"),
                       "calls": calls, "total_s": total, "mean_s": mean, "share": share})
    ranked.sort(key=lambda r: -(r["total_s"] if r["total_s"] is not None else (r["share"] or 0)))
    return ranked[:limit]


def title_line(record: dict[str, Any]) -> str:
    model = record.get("model") or "?"
    if record.get("implementation") and record.get("implementation") != "hf":
        model += f"/{record['implementation']}"
    length = record.get("length_tokens")
    parts = [f"[b]{escape(str(model))}[/]",
             f"{format_tokens(length) if isinstance(length, int) else '?'} tokens",
             str(record.get("variant") or ""), f"path {record.get('kernel_path') or '?'}"]
    total = _number(record, "device_total_s")
    if total is not None:
        parts.append(f"device {format_seconds(total)}")
    return "  ".join(p for p in parts if p)


def category_lines(record: dict[str, Any]) -> list[str]:
    shares = sorted(category_shares(record).items(), key=lambda kv: -kv[1])
    return [f"{escape(name[:8]):<8} {bar(share, BAR_WIDTH)} {100 * share:3.0f}%"
            for name, share in shares] or ["no categories"]


class KernelPanel(Vertical):
    record: reactive[dict[str, Any] | None] = var(None)

    def compose(self) -> ComposeResult:
        yield TextPanel(id="kernels-title")
        with Horizontal(id="kernels-body"):
            table: DataTable[Any] = DataTable(id="kernels-table", cursor_type="row")
            yield table
            yield TextPanel(id="kernels-categories")

    def on_mount(self) -> None:
        table = self.query_one("#kernels-table", DataTable)
        for key, label in (("name", "kernel"), ("category", "category"), ("share", "share"),
                           ("mean", "mean"), ("calls", "calls")):
            table.add_column(label, key=key)
        self._redraw(self.record)

    def watch_record(self, record: dict[str, Any] | None) -> None:
        if self.is_mounted:
            self._redraw(record)

    def _redraw(self, record: dict[str, Any] | None) -> None:
        title = self.query_one("#kernels-title", TextPanel)
        categories = self.query_one("#kernels-categories", TextPanel)
        table = self.query_one("#kernels-table", DataTable)
        table.clear()
        if not record:
            title.show("no profiled point yet (runs with --profile show their kernels here)")
            categories.show("")
            return
        title.show(title_line(record))
        for row in top_kernels(record):
            share = f"{100 * row['share']:.1f}%" if row["share"] is not None else "-"
            calls = f"{row['calls']:.0f}" if row["calls"] is not None else "-"
            table.add_row(row["name"][:NAME_WIDTH], row["category"], share,
                          short_seconds(row["mean_s"]), calls)
        categories.show("\n".join(category_lines(record)))
