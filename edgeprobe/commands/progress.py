"""Progress of a run for a person: a bar with the time left on a terminal, one line per
finished point, and a heartbeat line when the output goes into a pipe or a file."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from edgeprobe.analysis.estimate import Estimate
from edgeprobe.analysis.figures import figures
from edgeprobe.analysis.kernels import category_shares
from edgeprobe.runner import events
from edgeprobe.units import (
    format_bytes,
    format_duration,
    format_seconds,
    format_spread_percent,
)

HEARTBEAT_S = 30.0


class _Watched:
    """The console, noting when it last printed (the heartbeat speaks only into silence)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.last_print_monotonic_s = time.monotonic()

    def print(self, *objects: Any, **options: Any) -> None:
        self.console.print(*objects, **options)
        self.last_print_monotonic_s = time.monotonic()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


class Heartbeat:
    """A daemon thread printing ``line()`` whenever the console was silent for
    ``every_s``."""

    def __init__(self, console: _Watched, line: Callable[[], str],
                 every_s: float = HEARTBEAT_S) -> None:
        self.console = console
        self.line = line
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _beat(self) -> None:
        while not self._stop.wait(min(5.0, self.every_s / 4)):
            if time.monotonic() - self.console.last_print_monotonic_s >= self.every_s:
                self.console.print(self.line(), highlight=False, markup=False)


class ProgressView:
    """Listener that draws a progress bar (with the time left) and one line per finished
    point. Where no bar can be drawn (output into a pipe or a file), a line says what is
    going on whenever nothing was printed for ``HEARTBEAT_S``."""

    def __init__(self, console: Console, quiet: bool = False,
                 estimate: Callable[[dict[str, Any], int], Estimate | None] | None = None
                 ) -> None:
        self.console = _Watched(console)
        self.quiet = quiet
        self.estimate = estimate
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("left"), TimeRemainingColumn(), console=console,
                                 transient=True, disable=quiet)
        self.task: Any = None
        self.doing = "starting"
        self.points_done = 0
        self.points_total = 0
        self.started_monotonic_s = time.monotonic()
        self._heartbeat: Heartbeat | None = None
        if not quiet and not console.is_terminal:
            self._heartbeat = Heartbeat(self.console, self.heartbeat_line)

    def __call__(self, event: events.RunEvent) -> None:
        handler = getattr(self, f"on_{event.kind}", None)
        if handler is not None:
            handler(event)

    def _plan_line(self, header: dict[str, Any], total: int) -> str:
        found = self.estimate(header, total) if self.estimate else None
        points = f"plan: {total} point{'s' if total != 1 else ''}"
        if found is None:
            return (f"{points} (no earlier run of {header['suite']} on this device to "
                    "estimate the time from)")
        runs = f"{found.runs} earlier run{'s' if found.runs > 1 else ''}"
        return (f"{points}, about {format_duration(found.seconds)} (from {runs} of "
                f"{header['suite']} on this device)")

    def heartbeat_line(self) -> str:
        elapsed_s = time.monotonic() - self.started_monotonic_s
        line = (f"... {self.doing}: {self.points_done} of {self.points_total} points, "
                f"{format_duration(elapsed_s)} in")
        if self.points_done:
            left_s = elapsed_s / self.points_done * (self.points_total - self.points_done)
            line += f", about {format_duration(left_s)} left"
        return line

    def _doing(self, text: str) -> None:
        self.doing = text
        if self.task is not None:
            self.progress.update(self.task, description=text)

    def on_started(self, event: events.Started) -> None:
        header, total, path = event.header, event.total, event.path
        budget = header.get("memory_budget_bytes")
        self.console.print(
            f"[bold]edgeprobe[/] suite [cyan]{header['suite']}[/] on [cyan]{header['device']}[/] "
            f"({header['kind']}, {header['dtype']}, power mode {header.get('power_mode') or 'n/a'}"
            + (f", memory budget {format_bytes(budget)}" if budget else "") + ")")
        self.console.print(f"bundle: {path}", highlight=False)
        if not self.quiet:
            self.console.print(self._plan_line(header, total), highlight=False, markup=False)
        self.points_total = total
        self.started_monotonic_s = time.monotonic()
        self.progress.start()
        self.task = self.progress.add_task("starting", total=total)
        if self._heartbeat is not None:
            self._heartbeat.start()

    def on_notice(self, event: events.Notice) -> None:
        style = {"warning": "bold yellow", "error": "bold red"}.get(event.level, "dim")
        self.console.print(f"[{style}]{event.level}:[/] {escape(event.message)}", highlight=False)

    def on_model_loading(self, event: events.ModelLoading) -> None:
        self._doing(f"loading {event.model}")

    def on_model_loaded(self, event: events.ModelLoaded) -> None:
        record = event.record
        path = record["kernel_path"]
        detail = ", ".join(f"{k} {path[k]}" for k in ("ssm_scan", "conv1d", "attention")
                           if path[k] != "n/a")
        if not self.quiet:
            self.console.print(f"[bold]{event.model}[/] {record['params'] / 1e6:.1f}M params, "
                               f"{record['dtype']}, kernel path [bold]{path['summary']}[/] "
                               f"({detail})", highlight=False)

    def on_point_started(self, event: events.PointStarted) -> None:
        what = "searching" if event.search else "probing"
        self._doing(f"{what} {event.model} {event.length} {event.variant}")

    def on_point(self, event: events.PointDone) -> None:
        record = event.record
        if not record.get("search"):
            self.points_done += 1
            if self.task is not None:
                self.progress.advance(self.task)
        if self.quiet:
            return
        figure = figures(record)
        status = record["status"]
        tag = "search " if record.get("search") else ""
        text = (f"  {tag}{record['model']}/{record['implementation']} {record['length_tokens']:>7} "
                f"{record['variant']:<9}")
        if status == "ok":
            text += f" TTFT {format_spread_percent(figure['ttft_s'], figure['ttft_iqr_s'])}"
            if figure["prefill_launch_bound"]:
                text += " (launch-bound)"
            if figure["tpot_s"] is not None:
                text += (f"  TPOT {format_seconds(figure['tpot_s'])}"
                         f" (cold {format_seconds(figure['tpot_cold_s'])})")
            if figure["tpot_graph_s"] is not None:
                text += f"  graph {format_seconds(figure['tpot_graph_s'])}"
            text += f"  peak {format_bytes(figure['peak_bytes'])}"
            self.console.print(text, highlight=False, markup=False)
        elif status != "skipped":
            self.console.print(f"{escape(text)} [yellow]{status}[/]: "
                               f"{escape(str(record.get('error')))}", highlight=False)

    def on_profile_started(self, event: events.ProfileStarted) -> None:
        self._doing(f"profiling {event.model} {event.length} {event.variant}")

    def on_kernels(self, event: events.KernelsDone) -> None:
        record = event.record
        if self.quiet:
            return
        text = (f"  kernels {record['model']}/{record['implementation']} "
                f"{record['length_tokens']:>7} {record['variant']:<9}")
        if record["status"] != "ok":
            self.console.print(f"{escape(text)} [yellow]{record['status']}[/]: "
                               f"{escape(str(record.get('error')))}", highlight=False)
            return
        shares = sorted(category_shares(record).items(), key=lambda kv: -kv[1])[:4]
        text += "  " + "  ".join(f"{c} {s * 100:.0f}%" for c, s in shares if s > 0)
        self.console.print(text, highlight=False, markup=False)

    def on_max_context(self, event: events.MaxContextDone) -> None:
        record = event.record
        self.console.print(f"  max context {record['model']}/{record['implementation']} "
                           f"{record['variant']}: {record.get('max_ok_tokens')} tokens "
                           f"(first failure {record.get('first_fail_tokens')}: "
                           f"{record.get('fail_status')})", highlight=False)

    def on_finished(self, event: events.Finished) -> None:
        self.stop()

    def stop(self) -> None:
        self.progress.stop()
        if self._heartbeat is not None:
            self._heartbeat.stop()
