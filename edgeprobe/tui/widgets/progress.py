"""Run progress: job, suite, points done, ETA, the model, length and variant being measured,
its kernel path (loudly when not fused on a GPU), and the last warning."""

from __future__ import annotations

import time
from typing import Any

from rich.markup import escape
from textual.reactive import reactive, var

from edgeprobe.tui.state import RunProgress
from edgeprobe.tui.widgets.panel import TextPanel, bar, duration, shorten_left
from edgeprobe.units import format_tokens


def progress_lines(run: RunProgress, warning: str | None, now_unix_s: float,
                   width: int = 76) -> list[str]:
    """The panel's lines for ``width`` cells; a bundle path longer than that loses its start
    (the log has it whole)."""
    if run.job_id is None:
        return ["no run yet: press [b]s[/] to start one", ""]
    fraction = run.points_done / run.points_total if run.points_total else 0.0
    first = (f"job {run.job_id} [b]{run.state}[/]  suite {escape(run.suite or '?')}  "
             f"{bar(fraction, 10)} {run.points_done}/{run.points_total}")
    if run.state == "running":
        first += f"  ETA {duration(run.eta_s(now_unix_s))}"
    elif run.ended_unix_s and run.started_unix_s:
        first += f"  took {duration(run.ended_unix_s - run.started_unix_s)}"
    if run.loading:
        second = f"loading {escape(run.model or '?')}"
    elif run.state == "running" and run.model:
        what = "searching max context" if run.searching else "probing"
        length = format_tokens(run.length_tokens) if run.length_tokens else "?"
        second = f"{what} [b]{escape(run.model)}[/] {length} tokens {run.variant or ''}"
    elif run.error:
        second = f"[b]error:[/] {escape(run.error)}"
    else:
        second = f"bundle {escape(shorten_left(run.bundle or '-', width - len('bundle ')))}"
    if run.kernel_path and run.state == "running":
        path = run.kernel_path
        second += f"  path {path}" if path == "fused" else f"  [b]path {path.upper()}[/]"
    lines = [first, second]
    if warning:
        lines.append(f"[b]! {escape(warning)}[/]")
    return lines


class RunPanel(TextPanel):
    progress: reactive[RunProgress] = var(RunProgress)
    warning: reactive[str | None] = var(None)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("run", **kwargs)

    def on_mount(self) -> None:
        self._redraw()
        self.set_interval(1.0, self._tick)  # the ETA counts down between events

    def _tick(self) -> None:
        if self.progress.state == "running":
            self._redraw()

    def watch_progress(self) -> None:
        self._redraw()

    def watch_warning(self) -> None:
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        width = self.content_region.width or 76
        lines = progress_lines(self.progress, self.warning, time.time(), width)
        self.show("\n".join(lines), layout=len(lines) != len(self.shown_text.splitlines()))
