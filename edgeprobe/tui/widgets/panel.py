"""What the panels share: a bordered text panel that repaints only when its text changes,
and small formatters for values that may be missing."""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text
from textual.widgets import Static

MISSING = "-"


class TextPanel(Static):
    """A Static that skips updates whose content equals what is shown. Its size is set by
    the stylesheet, so new text repaints the panel alone, without a layout pass."""

    def __init__(self, title: str = "", **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self._shown: str | Text | None = None
        if title:
            self.border_title = title

    def show(self, content: str | Text, layout: bool = False) -> None:
        """Show ``content``; ``layout`` when its height may change (a panel of auto height)."""
        if content == self._shown:
            return
        self._shown = content
        self.update(content, layout=layout)

    @property
    def shown_text(self) -> str:
        """The panel's text without styles (what a reader sees; used by tests too)."""
        content = self._shown
        if content is None:
            return ""
        return content.plain if isinstance(content, Text) else Text.from_markup(content).plain


def shorten_left(text: str, width: int) -> str:
    """``text`` as it fits ``width`` cells, its start replaced by an ellipsis (paths: the
    file name is the part that tells bundles apart)."""
    if len(text) <= width:
        return text
    return "…" + text[len(text) - width + 1:] if width >= 1 else ""


def number(sample: dict[str, Any], key: str) -> float | None:
    value = sample.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def watts(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1f} W"


def joules(value: float | None) -> str:
    if value is None:
        return MISSING
    return f"{value / 1000:.2f} kJ" if abs(value) >= 10_000 else f"{value:.1f} J"


def celsius(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1f} °C"


def megahertz(value: float | None) -> str:
    return MISSING if value is None else f"{value:.0f} MHz"


def bar(fraction: float | None, width: int) -> str:
    """A text bar (readable without colour): filled blocks then light shade."""
    if fraction is None or width <= 0:
        return " " * width
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "█" * filled + "░" * (width - filled)


def duration(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return MISSING
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _three_digits(value: float) -> str:
    return f"{value:.3g}" if value < 1000 else f"{value:.0f}"


def short_seconds(value: float | None) -> str:
    """Three significant digits: ``502 ms``, ``1.08 s``, ``12.5 ms`` (table cells)."""
    if value is None or math.isnan(value):
        return MISSING
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if value >= scale or unit == "µs":
            return f"{_three_digits(value / scale)} {unit}"
    return MISSING


def short_bytes(value: float | None) -> str:
    """Three significant digits in binary units: ``497 MiB``, ``1.21 GiB``."""
    if value is None or math.isnan(value):
        return MISSING
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if value >= scale:
            return f"{_three_digits(value / scale)} {unit}"
    return f"{value:.0f} B"
