"""Start a run: suite, power mode and device, chosen with the keyboard; returns the argv
of ``edgeprobe run`` (None when dismissed)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Select

from edgeprobe.errors import EdgeprobeError

KEEP_MODE = "(keep current)"
DEVICES = ("auto", "cuda", "cpu")


def available_suites() -> list[str]:
    from edgeprobe.suite import list_suites

    try:
        return list_suites()
    except EdgeprobeError:
        return ["smoke"]


def available_power_modes(device_name: str | None) -> list[str]:
    """nvpmodel modes on a Jetson; else the named power limits of the device profile."""
    from edgeprobe.power import nvpmodel
    from edgeprobe.suite.devices import detect_device_profile

    try:
        config = nvpmodel.read_config()
        if config is not None:
            return [mode.name for mode in config.modes]
        profile = detect_device_profile([device_name])
        return list(profile.power_limits_w or {})
    except EdgeprobeError:
        return []


def run_argv(suite: str, power_mode: str, device: str, max_context: bool) -> list[str]:
    argv = ["--suite", suite, "--device", device]
    if power_mode and power_mode != KEEP_MODE:
        argv += ["--power-mode", power_mode]
    if max_context:
        argv.append("--find-max-context")
    return argv


class StartRunScreen(ModalScreen[list[str] | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "cancel"), Binding("ctrl+s", "start", "start")]

    def __init__(self, suites: list[str], power_modes: list[str], current_mode: str | None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suites = suites or ["smoke"]
        self.power_modes = power_modes
        self.current_mode = current_mode

    def compose(self) -> ComposeResult:
        current = f" (now {self.current_mode})" if self.current_mode else ""
        with Vertical(id="start-box", classes="dialog"):
            yield Label("[b]start a run[/]   tab: next field   enter: open a list   "
                        "ctrl+s: start")
            with Horizontal(classes="field"):
                yield Label("suite", classes="field-label")
                yield Select([(s, s) for s in self.suites], value=self._default_suite(),
                             allow_blank=False, compact=True, id="start-suite")
            with Horizontal(classes="field"):
                yield Label("power mode", classes="field-label")
                yield Select([(KEEP_MODE + current, KEEP_MODE),
                              *((m, m) for m in self.power_modes)],
                             value=KEEP_MODE, allow_blank=False, compact=True, id="start-mode")
            with Horizontal(classes="field"):
                yield Label("device", classes="field-label")
                yield Select([(d, d) for d in DEVICES], value="auto", allow_blank=False,
                             compact=True, id="start-device")
            with Horizontal(classes="field"):
                yield Label("max context", classes="field-label")
                yield Select([("no search", False), ("search after the sweep", True)],
                             value=False, allow_blank=False, compact=True, id="start-maxctx")
            with Horizontal(id="start-buttons"):
                yield Button("start", variant="primary", compact=True, id="start-go")
                yield Button("cancel", compact=True, id="start-cancel")

    def _default_suite(self) -> str:
        return "smoke" if "smoke" in self.suites else self.suites[0]

    def on_mount(self) -> None:
        self.query_one("#start-suite", Select).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start-go":
            self.action_start()
        else:
            self.action_close()

    def action_start(self) -> None:
        self.dismiss(run_argv(str(self.query_one("#start-suite", Select).value),
                              str(self.query_one("#start-mode", Select).value),
                              str(self.query_one("#start-device", Select).value),
                              self.query_one("#start-maxctx", Select).value is True))

    def action_close(self) -> None:
        self.dismiss(None)
