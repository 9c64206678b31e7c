"""Help: the keys and what each panel shows."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP_TEXT = """\
[b]edgeprobe tui[/]: the device and the probe suite, live

[b]keys[/]
  s        start a run (choose suite, power mode, device)
  c        cancel the running job (asks first)
  b        browse bundles; enter shows one's results
  r k l    results / kernels / log tab
  ?        this help        q  quit (a run in the agent goes on)
  escape   close a dialog

[b]panels[/]
  header        device, power mode, clocks, throttle state; agent or local
  memory        GPU or unified memory, RAM, swap; torch allocator figures
  power         total and rails, last 60 s sparkline, energy of the point
  temperatures  GPU and thermal zones, hottest first
  run           job, suite, points, ETA, model, length, kernel path
  results       TTFT (all-position and last-position logits), TPOT, peak
                memory per model and length; OOM and other failures named
  kernels       top kernels and category shares of the latest profiled point

Without an agent the TUI samples this machine itself; runs it starts then
stop when it quits. Start one with `edgeprobe agent` to keep runs going.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box", classes="dialog"):
            yield Static(HELP_TEXT, id="help-text")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
