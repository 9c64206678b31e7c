"""Device header: device name, power mode, clocks, throttle state, and where the data comes
from (the agent, or this TUI alone)."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.text import Text
from textual.reactive import reactive, var

from edgeprobe.tui.widgets.panel import TextPanel, megahertz, number

# Reasons NVML reports on an idle or application-clocked GPU: not throttling.
_BENIGN_REASONS = {"gpu_idle", "applications_clocks_setting", "display_clock_setting"}


def throttle_text(sample: dict[str, Any]) -> str:
    reasons = sample.get("throttle_reasons")
    if not isinstance(reasons, list):
        return "throttle n/a"
    active = [r for r in reasons if r not in _BENIGN_REASONS]
    return f"[b]THROTTLED: {escape(', '.join(active))}[/]" if active else "throttle none"


def clocks_text(sample: dict[str, Any]) -> str:
    parts = []
    if number(sample, "gpu_sm_clock_mhz") is not None:
        parts.append(f"GPU {megahertz(number(sample, 'gpu_sm_clock_mhz'))}")
    for key, label in (("gpu_mem_clock_mhz", "mem"), ("emc_clock_mhz", "EMC")):
        if number(sample, key) is not None:
            parts.append(f"{label} {megahertz(number(sample, key))}")
    if number(sample, "gpu_load_pct") is not None:
        parts.append(f"load {number(sample, 'gpu_load_pct'):.0f}%")
    elif number(sample, "gpu_util_pct") is not None:
        parts.append(f"util {number(sample, 'gpu_util_pct'):.0f}%")
    return "  ".join(parts) if parts else "clocks n/a"


class DeviceHeader(TextPanel):
    """Two lines at the top. ``link`` says agent or local; ``sample`` is the newest frame."""

    sample: reactive[dict[str, Any]] = var(dict)
    link: reactive[str] = var("connecting to the agent...")

    def watch_sample(self) -> None:
        self._redraw()

    def watch_link(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        sample = self.sample
        facts = sample.get("facts") or {}
        name = facts.get("device_name") or "device ?"
        mode = facts.get("power_mode") or "n/a"
        if facts.get("jetson_clocks"):
            mode += " + jetson_clocks"
        # The device name alone on the first line: it is cut only when wider than the screen.
        first = f"[b]{escape(str(name))}[/]"
        second = (f"mode [b]{escape(str(mode))}[/]  {self.link}  {throttle_text(sample)}  "
                  f"{clocks_text(sample)}")
        text = Text.from_markup(f"{first}\n{second}", overflow="ellipsis")
        text.no_wrap = True
        self.show(text)
