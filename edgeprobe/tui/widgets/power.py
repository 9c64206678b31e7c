"""Power: the device total with a 60 s sparkline, each rail, and the energy of the point
being measured (live from the frames) or of the last one (as the run measured it). Where no
power is read, a line saying so and why, in place of the sparkline."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive, var
from textual.widgets import Sparkline

from edgeprobe.agent.feed import rail_columns, total_power_column
from edgeprobe.tui.state import power_read
from edgeprobe.tui.widgets.panel import TextPanel, joules, number, watts

_TOTAL_LABELS = {"board_power_w": "board", "gpu_power_w": "GPU", "cpu_package_power_w": "CPU pkg"}


def total_line(sample: dict[str, Any]) -> str:
    column = total_power_column(sample)
    if column is None:
        return "no power sensor readable"
    text = f"[b]{watts(number(sample, column))}[/] {_TOTAL_LABELS[column]}"
    limit = number(sample, "gpu_power_limit_w")
    if column == "gpu_power_w" and limit is not None:
        text += f" / {limit:.0f} W cap"
    return text


def unread_lines(sample: dict[str, Any], why: tuple[str, ...]) -> list[str]:
    """What the panel says in place of the sparkline when the sample has no power reading."""
    if not sample:
        return ["no power reading yet", "(waiting for telemetry)"]
    return ["[b]power not read here[/]", *(escape(line) for line in why or
                                            ("no power sensor found",))]


def rail_lines(sample: dict[str, Any]) -> list[str]:
    lines = []
    for column in rail_columns(sample):
        name = column[len("rail_"):-len("_power_w")].upper()
        lines.append(f"{name[:14]:<14}{watts(number(sample, column)):>8}")
    if not lines and number(sample, "gpu_power_avg_w") is not None:
        lines.append(f"{'GPU 1 s avg':<14}{watts(number(sample, 'gpu_power_avg_w')):>8}")
    if number(sample, "cpu_package_power_w") is not None and \
            total_power_column(sample) != "cpu_package_power_w":
        lines.append(f"{'CPU pkg':<14}{watts(number(sample, 'cpu_package_power_w')):>8}")
    return lines


class PowerPanel(Vertical):
    sample: reactive[dict[str, Any]] = var(dict)
    history: reactive[tuple[float, ...]] = var(tuple)
    energy: reactive[str] = var("point energy -")
    unread_why: reactive[tuple[str, ...]] = var(tuple)  # why no power sensor reads

    def compose(self) -> ComposeResult:
        self.border_title = "power (60 s)"
        yield TextPanel(id="power-total")
        yield Sparkline([], id="power-spark")
        yield TextPanel(id="power-rails")
        yield TextPanel(id="power-unread")

    def watch_sample(self) -> None:
        self._redraw_text()

    def watch_unread_why(self) -> None:
        self._redraw_text()

    def watch_energy(self) -> None:
        self._redraw_text()

    def watch_history(self, history: tuple[float, ...]) -> None:
        self.query_one("#power-spark", Sparkline).data = list(history)

    def _redraw_text(self) -> None:
        if not self.is_mounted:
            return
        unread = not power_read(self.sample)
        self.set_class(unread, "-unread")
        if unread:
            self.query_one("#power-unread", TextPanel).show(
                "\n".join(unread_lines(self.sample, self.unread_why)))
            return
        self.query_one("#power-total", TextPanel).show(total_line(self.sample))
        lines = [*rail_lines(self.sample), self.energy]
        self.query_one("#power-rails", TextPanel).show("\n".join(lines))

    def on_mount(self) -> None:
        self._redraw_text()

    @staticmethod
    def energy_text(label: str | None, live_j: float | None, last_j: float | None) -> str:
        if label is not None and live_j is not None:
            return f"point {joules(live_j)} (live)"
        if last_j is not None:
            return f"last point {joules(last_j)}"
        return "point energy -"
