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

[b]keys[/] (the footer shows the first few)
  q       quit (a run in the agent goes on)
  ?       this help
  s       start a run (suite, models, device, power, size)
  c       cancel the running job (asks first)
  r       results tab; the table takes the keyboard:
          up/down, PgUp/PgDn, Home/End; new rows are followed
          only while the cursor is on the last row
  b       browse bundles; enter shows one's results
  k       kernels tab (its table takes the keyboard)
  l       log tab (up/down, PgUp/PgDn scroll it)
  tab     next part of the screen
  escape  close a dialog

[b]panels[/]
  header   device, power mode, throttle state, clocks; agent or local
  memory   GPU or unified memory, RAM, swap; torch allocator figures
  power    total and rails, 60 s sparkline, energy of the point;
           where no sensor reads power, why (the log has the fix)
  temps    GPU and thermal zones, hottest first
  run      job, suite, points, ETA, model, length, kernel path
  results  status of all-position / last-position logits (ok,
           OOM, skip/OOM: one word when both agree), TTFT of each,
           TPOT warm and cold, peak memory per model and length
  kernels  top kernels and category shares of the last profiled point

Without an agent the TUI samples this machine itself, and runs it
starts stop when it quits: `edgeprobe agent` keeps them going.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box", classes="dialog"):
            yield Static(HELP_TEXT, id="help-text")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
