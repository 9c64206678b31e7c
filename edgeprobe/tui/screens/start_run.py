"""Start a run: suite, models, lengths, device, device profile, power mode, jetson_clocks and
the max-context search, chosen with the keyboard; a line under the fields says how many
points the run measures and how long earlier runs suggest it takes. Returns the argv of
``edgeprobe run`` (None when dismissed). A power mode that needs a reboot is started only
after the user agrees to the reboot."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive, var
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static
from textual.worker import get_current_worker

from edgeprobe.tui.run_plan import (
    AUTO_PROFILE,
    DEVICES,
    KEEP_MODE,
    PowerModes,
    RunChoice,
    available_suites,
    device_profiles,
    power_modes,
    size_line,
    split_words,
)
from edgeprobe.tui.screens.confirm import ConfirmScreen

# What the size line depends on: a change of anything else does not count again.
SIZE_FIELDS = ("suite", "models", "lengths", "device")


def data_folders() -> list[Path]:
    from edgeprobe.agent.paths import bundle_dir

    return [bundle_dir()]


class StartRunScreen(ModalScreen[list[str] | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "cancel"), Binding("ctrl+s", "start", "start")]

    choice: reactive[RunChoice] = var(RunChoice, init=False)
    size_text: reactive[str] = var("counting the points...")
    note: reactive[str] = var("")

    def __init__(self, suites: list[str], modes: PowerModes, profiles: list[str],
                 detected_profile: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suites = suites or ["smoke"]
        self.modes = modes
        self.profiles = profiles
        self.detected_profile = detected_profile

    @classmethod
    def for_machine(cls, facts: dict[str, Any]) -> StartRunScreen:
        """The dialog for the machine the agent's telemetry describes."""
        device_name = facts.get("device_name")
        profiles, detected = device_profiles(device_name)
        return cls(available_suites(), power_modes(device_name, facts.get("power_mode")),
                   profiles, detected)

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="start-box", classes="dialog"):
            yield Label("[b]start a run[/]  tab: next field  enter: open a list  ctrl+s: start",
                        id="start-title")
            with VerticalScroll(id="start-fields"):
                yield from self._fields()
            yield Static(id="start-size")
            yield Static(id="start-note")
            with Horizontal(id="start-buttons"):
                yield Button("start", variant="primary", compact=True, id="start-go")
                yield Button("cancel", compact=True, id="start-cancel")

    def _fields(self) -> ComposeResult:
        yield self._field("suite", Select([(s, s) for s in self.suites], allow_blank=False,
                                          value=self._default_suite(), compact=True,
                                          id="start-suite"))
        yield self._field("models", Input(placeholder="the suite's (names, space apart)",
                                          compact=True, id="start-models"))
        yield self._field("lengths", Input(placeholder="the suite's (e.g. 1K 4K)",
                                           compact=True, id="start-lengths"))
        yield self._field("device", Select([(d, d) for d in DEVICES], value="auto",
                                           allow_blank=False, compact=True, id="start-device"))
        yield self._field("profile", Select(self._profile_options(), value=AUTO_PROFILE,
                                            allow_blank=False, compact=True,
                                            id="start-profile"))
        yield self._field("power mode", Select(self._mode_options(), value=KEEP_MODE,
                                               allow_blank=False, compact=True,
                                               id="start-mode"))
        clocks = self._field("clocks", Checkbox("pin at maximum (jetson_clocks)",
                                                compact=True, id="start-clocks"))
        clocks.display = self.modes.jetson  # the clocks nvpmodel's boards have
        clocks.id = "start-clocks-row"
        yield clocks
        yield self._field("max context", Select(
            [("no search", False), ("search after the sweep", True)], value=False,
            allow_blank=False, compact=True, id="start-maxctx"))

    @staticmethod
    def _field(label: str, widget: Any) -> Horizontal:
        return Horizontal(Label(label, classes="field-label"), widget, classes="field")

    def _default_suite(self) -> str:
        return "smoke" if "smoke" in self.suites else self.suites[0]

    def _profile_options(self) -> list[tuple[str, str]]:
        auto = f"auto ({self.detected_profile})" if self.detected_profile else AUTO_PROFILE
        return [(auto, AUTO_PROFILE), *((p, p) for p in self.profiles)]

    def _mode_options(self) -> list[tuple[str, str]]:
        now = f" (now {self.modes.current})" if self.modes.current else ""
        return [(KEEP_MODE + now, KEEP_MODE),
                *((self.modes.label(m), m) for m in self.modes.names)]

    def on_mount(self) -> None:
        self.choice = self._read_choice()
        self.count_points(self.choice)
        self.query_one("#start-suite", Select).focus()

    # -- the choice ------------------------------------------------------------------------
    def _read_choice(self) -> RunChoice:
        def value(selector: str) -> Any:
            return self.query_one(selector, Select).value

        return RunChoice(
            suite=str(value("#start-suite")), power_mode=str(value("#start-mode")),
            device=str(value("#start-device")), device_profile=str(value("#start-profile")),
            jetson_clocks=self.modes.jetson and self.query_one("#start-clocks", Checkbox).value,
            max_context=value("#start-maxctx") is True,
            models=split_words(self.query_one("#start-models", Input).value),
            lengths=split_words(self.query_one("#start-lengths", Input).value))

    @on(Select.Changed)
    @on(Input.Changed)
    @on(Checkbox.Changed)
    def _field_changed(self) -> None:
        self.choice = self._read_choice()
        self.note = ""

    def watch_choice(self, old: RunChoice, new: RunChoice) -> None:
        if any(getattr(old, name) != getattr(new, name) for name in SIZE_FIELDS):
            self.count_points(new)

    @work(thread=True, exclusive=True, group="size")
    def count_points(self, choice: RunChoice) -> None:
        """The size line, off the event loop: it reads the suite and earlier bundles."""
        text = size_line(choice, data_folders())
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(setattr, self, "size_text", text)

    def watch_size_text(self, text: str) -> None:
        self.query_one("#start-size", Static).update(text)

    def watch_note(self, text: str) -> None:
        note = self.query_one("#start-note", Static)
        note.update(text)
        note.display = bool(text)

    # -- starting --------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start-go":
            self.action_start()
        else:
            self.action_close()

    def action_start(self) -> None:
        choice = self._read_choice()
        if choice.power_mode not in self.modes.reboot:
            self.dismiss(choice.argv())
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss(replace(choice, allow_reboot=True).argv())
            else:
                self.note = (f"not started: {choice.power_mode} needs a reboot; choose "
                             "another power mode, or start again and allow the reboot")

        self.app.push_screen(ConfirmScreen(
            f"Switching from {self.modes.current or 'the current mode'} to "
            f"{choice.power_mode} needs a reboot: nvpmodel reboots the board, and the run "
            "ends there without measuring. Start it again once the board is up. Reboot?"),
            answered)

    def action_close(self) -> None:
        self.dismiss(None)
