"""Temperatures: the GPU, the hottest zone, then every thermal zone, hottest first."""

from __future__ import annotations

import re
from typing import Any

from textual.reactive import reactive, var

from edgeprobe.tui.widgets.panel import TextPanel, celsius, number

_ZONE = re.compile(r"^zone_(.+)_temp_c$")


def zone_label(column: str) -> str:
    name = _ZONE.match(column).group(1) if _ZONE.match(column) else column  # type: ignore[union-attr]
    return re.sub(r"_(thermal|therm|temp)$", "", name)


def temperature_lines(sample: dict[str, Any]) -> list[str]:
    lines = []
    gpu = number(sample, "gpu_temp_c")
    if gpu is not None:
        lines.append(f"{'GPU':<8} {celsius(gpu):>7}")
    hottest = number(sample, "zones_max_temp_c")
    if hottest is not None:
        lines.append(f"{'hottest':<8} {celsius(hottest):>7}")
    zones = sorted(((number(sample, k), k) for k in sample if _ZONE.match(k)),
                   key=lambda pair: -(pair[0] if pair[0] is not None else -1e9))
    for value, column in zones:
        if value is not None:
            lines.append(f"{zone_label(column)[:8]:<8} {celsius(value):>7}")
    return lines or ["no temperature", "sensor readable"]


class TemperaturePanel(TextPanel):
    sample: reactive[dict[str, Any]] = var(dict)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("temperatures", **kwargs)

    def watch_sample(self) -> None:
        self.show("\n".join(temperature_lines(self.sample)))
