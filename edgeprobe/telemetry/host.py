"""Host figures from /proc: CPU load (from /proc/stat deltas), RAM and swap (/proc/meminfo)."""

from __future__ import annotations

import re

from edgeprobe.telemetry.base import NAN, Metric, Source, SysFile, gauge

STAT_PATH = "/proc/stat"
MEMINFO_PATH = "/proc/meminfo"


def parse_cpu_times(text: str) -> tuple[int, int] | None:
    """``(busy, total)`` jiffies from the aggregate ``cpu`` line of /proc/stat."""
    for line in text.splitlines():
        if line.startswith("cpu "):
            fields = [int(x) for x in line.split()[1:]]
            # user nice system idle iowait irq softirq steal (guest time is inside user/nice)
            total = sum(fields[:8])
            idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
            return total - idle, total
    return None


_MEMINFO_RE = re.compile(r"^(MemTotal|MemAvailable|SwapTotal|SwapFree):\s+(\d+)( kB)?",
                         re.MULTILINE)
# The aggregate line comes first; reading this much of /proc/stat is enough for it.
STAT_HEAD_BYTES = 512


def parse_meminfo(text: str) -> dict[str, int]:
    """``{"MemTotal": bytes, ...}`` (the four keys used) from /proc/meminfo (kB means KiB)."""
    return {key: int(number) * (1024 if kb else 1)
            for key, number, kb in _MEMINFO_RE.findall(text)}


class HostSource(Source):
    """CPU load, RAM and swap. On a Jetson RAM is unified: the GPU allocates from it too."""

    name = "host"

    def __init__(self, unified_memory: bool = False) -> None:
        super().__init__()
        self.unified_memory = unified_memory
        self._last_cpu: tuple[int, int] | None = None
        self._cpu = False
        self._mem = False
        self._swap = False
        self._stat: SysFile | None = None
        self._meminfo: SysFile | None = None

    def open(self) -> list[Metric]:
        metrics: list[Metric] = []
        self._stat, self._meminfo = SysFile(STAT_PATH), SysFile(MEMINFO_PATH)
        text, why = self._stat.text(STAT_HEAD_BYTES)
        times = parse_cpu_times(text) if text else None
        if times is None:
            self.unavailable("cpu_load", why or f"{STAT_PATH} has no aggregate cpu line")
        else:
            self._cpu, self._last_cpu = True, times
            self.ok("cpu_load", f"{STAT_PATH} (busy share of all cores between samples)")
            metrics.append(gauge("cpu_load_pct"))
        text, why = self._meminfo.text()
        info = parse_meminfo(text) if text else {}
        if "MemTotal" in info and "MemAvailable" in info:
            self._mem = True
            where = f"{MEMINFO_PATH} MemTotal - MemAvailable"
            if self.unified_memory:
                where += " (unified memory: CPU and GPU share it)"
            self.ok("ram", where)
            metrics += [gauge("ram_used_bytes"), gauge("ram_total_bytes")]
        else:
            self.unavailable("ram", why or f"{MEMINFO_PATH} lacks MemTotal/MemAvailable")
        if "SwapTotal" in info and "SwapFree" in info:
            self._swap = True
            self.ok("swap", f"{MEMINFO_PATH} SwapTotal - SwapFree"
                    + ("" if info["SwapTotal"] else " (no swap configured)"))
            metrics += [gauge("swap_used_bytes"), gauge("swap_total_bytes")]
        else:
            self.unavailable("swap", why or f"{MEMINFO_PATH} lacks SwapTotal/SwapFree")
        return metrics

    def read(self, values: dict[str, float]) -> None:
        if self._cpu and not self.is_lost("cpu_load"):
            self._read_cpu(values)
        if (self._mem and not self.is_lost("ram")) or (self._swap and not self.is_lost("swap")):
            self._read_memory(values)

    def _read_cpu(self, values: dict[str, float]) -> None:
        assert self._stat is not None
        text, why = self._stat.text(STAT_HEAD_BYTES)
        times = parse_cpu_times(text) if text else None
        if times is None:
            self.lose("cpu_load", why or "no aggregate cpu line")
            return
        previous, self._last_cpu = self._last_cpu, times
        busy = times[0] - previous[0] if previous else 0
        total = times[1] - previous[1] if previous else 0
        values["cpu_load_pct"] = 100.0 * busy / total if total > 0 else NAN

    def _read_memory(self, values: dict[str, float]) -> None:
        assert self._meminfo is not None
        text, why = self._meminfo.text()
        info = parse_meminfo(text) if text else {}
        if self._mem and not self.is_lost("ram"):
            if "MemTotal" in info and "MemAvailable" in info:
                values["ram_total_bytes"] = info["MemTotal"]
                values["ram_used_bytes"] = info["MemTotal"] - info["MemAvailable"]
            else:
                self.lose("ram", why or "MemTotal/MemAvailable missing")
        if self._swap and not self.is_lost("swap"):
            if "SwapTotal" in info and "SwapFree" in info:
                values["swap_total_bytes"] = info["SwapTotal"]
                values["swap_used_bytes"] = info["SwapTotal"] - info["SwapFree"]
            else:
                self.lose("swap", why or "SwapTotal/SwapFree missing")
