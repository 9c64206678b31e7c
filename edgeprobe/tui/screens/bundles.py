"""Browse bundles: the agent's list (newest first); enter shows one's header and results."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from edgeprobe.analysis.render import header_lines, max_context_table, summary_table
from edgeprobe.bundle import BundleError, read_bundle
from edgeprobe.units import format_bytes


def bundle_summary(path: str) -> Group | Text:
    """A bundle's header lines and results table; one line when it cannot be read."""
    try:
        bundle = read_bundle(path)
    except BundleError as exc:
        return Text(f"cannot read {path}: {exc}")
    parts: list[Any] = [Text(line) for line in header_lines(bundle)]
    if bundle.truncated or bundle.damage:
        parts.append(Text(f"warning: {bundle.damage or 'bundle is truncated'}", style="bold"))
    parts.append(summary_table(bundle.points))
    if bundle.max_context:
        parts.append(max_context_table(bundle.max_context))
    return Group(*parts)


class BundlesScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "back", "back")]

    def __init__(self, bundles: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bundles = bundles

    def compose(self) -> ComposeResult:
        with Vertical(id="bundles-box", classes="dialog"):
            if self.bundles:
                yield Label(f"[b]bundles[/] ({len(self.bundles)})  enter: show  escape: back")
            else:
                yield Label("[b]bundles[/]: no bundles yet in the agent's data folder  "
                            "escape: back")
            yield DataTable(id="bundles-table", cursor_type="row")
            with VerticalScroll(id="bundle-view"):
                yield Static("", id="bundle-summary")

    def on_mount(self) -> None:
        table = self.query_one("#bundles-table", DataTable)
        table.add_columns("bundle", "size", "modified")
        for entry in self.bundles:
            modified = time.strftime("%Y-%m-%d %H:%M",
                                     time.localtime(entry.get("modified_unix_s") or 0))
            table.add_row(Path(entry["path"]).name, format_bytes(entry.get("bytes")), modified,
                          key=entry["path"])
        self.query_one("#bundle-view").display = False
        table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        path = event.row_key.value
        if path is None:
            return
        self.query_one("#bundle-summary", Static).update(bundle_summary(path))
        view = self.query_one("#bundle-view")
        view.display = True
        self.query_one("#bundles-table").display = False
        view.focus()

    def action_back(self) -> None:
        view = self.query_one("#bundle-view")
        if view.display:
            view.display = False
            table = self.query_one("#bundles-table")
            table.display = True
            table.focus()
            return
        self.dismiss(None)
