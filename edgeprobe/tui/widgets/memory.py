"""Memory: device memory (NVML) or unified memory (Jetson RAM), host RAM and swap, and the
torch allocator's figures during a run."""

from __future__ import annotations

from typing import Any

from textual.reactive import reactive, var

from edgeprobe.tui.widgets.panel import TextPanel, bar, number
from edgeprobe.units import format_bytes

BAR_WIDTH = 6


def _used_total(sample: dict[str, Any], used: str, total: str) -> tuple[float, float] | None:
    u, t = number(sample, used), number(sample, total)
    return (u, t) if u is not None and t else None


def _gib(value: float) -> str:
    return f"{value / 1024**3:.1f}"


def _line(label: str, pair: tuple[float, float] | None) -> str:
    if pair is None:
        return f"{label:<6} n/a"
    used, total = pair
    return f"{label:<6} {bar(used / total, BAR_WIDTH)} {_gib(used)}/{_gib(total)} GiB"


def torch_lines(sample: dict[str, Any], point: dict[str, Any] | None) -> list[str]:
    allocated = number(sample, "cuda_allocated_bytes")
    reserved = number(sample, "cuda_reserved_bytes")
    if allocated is not None:
        return [f"torch  alloc {format_bytes(allocated)}", f"       resv  {format_bytes(reserved)}"]
    memory = (point or {}).get("memory") or {}
    if memory.get("peak_allocated_bytes") is not None:
        return ["torch peak, last point",
                f"  alloc {format_bytes(memory.get('peak_allocated_bytes'))}",
                f"  resv  {format_bytes(memory.get('peak_reserved_bytes'))}"]
    if memory.get("peak_rss_bytes") is not None:
        return ["worker peak, last point", f"  RSS {format_bytes(memory.get('peak_rss_bytes'))}"]
    return ["torch  no run yet"]


class MemoryPanel(TextPanel):
    sample: reactive[dict[str, Any]] = var(dict)
    last_point: reactive[dict[str, Any] | None] = var(None)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("memory", **kwargs)

    def watch_sample(self) -> None:
        self._redraw()

    def watch_last_point(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        sample = self.sample
        facts = sample.get("facts") or {}
        lines = []
        gpu = _used_total(sample, "gpu_mem_used_bytes", "gpu_mem_total_bytes")
        ram = _used_total(sample, "ram_used_bytes", "ram_total_bytes")
        if gpu is not None:
            lines.append(_line("GPU", gpu))
        if facts.get("platform") == "jetson":
            lines.append(_line("shared", ram))  # unified: CPU and GPU allocate from RAM
        else:
            lines.append(_line("RAM", ram))
        swap = _used_total(sample, "swap_used_bytes", "swap_total_bytes")
        if swap is not None:
            lines.append(_line("swap", swap))
        lines += torch_lines(sample, self.last_point)
        self.show("\n".join(lines))
