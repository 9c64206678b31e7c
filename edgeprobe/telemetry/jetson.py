"""Jetson boards straight from sysfs: INA3221 rails, GPU load and clock (devfreq), EMC clock,
GPU temperature, nvpmodel mode and jetson_clocks state. Complete without jetson-stats."""

from __future__ import annotations

import re
from typing import Any

from edgeprobe import sysroot
from edgeprobe.power import nvpmodel
from edgeprobe.telemetry.base import (
    UINT32,
    Metric,
    Source,
    SysFile,
    gauge,
    read_sys,
    read_sys_number,
)
from edgeprobe.telemetry.rails import Rail, find_rails, input_rail

DEVFREQ_GLOB = "/sys/class/devfreq/*"
# Device-tree names of Jetson integrated GPUs (TX2, Xavier, Orin, and the generic name).
GPU_NODE_NAMES = ("gp10b", "gv11b", "ga10b", "gpu")
EMC_RATE_PATH = "/sys/kernel/debug/bpmp/debug/clk/emc/rate"
CPUFREQ_GLOB = "/sys/devices/system/cpu/cpu[0-9]*/cpufreq"
BOARD_COLUMN = "board_power_w"
# Power mode and jetson_clocks change rarely: re-read them every this many samples.
SLOW_REFRESH_TICKS = 50


def find_gpu_devfreq() -> str | None:
    for folder in sysroot.glob_paths(DEVFREQ_GLOB):
        node = read_sys(f"{folder}/device/of_node/name")[0]
        short = folder.rsplit("/", 1)[-1].split(".")[-1]
        if (node or "").strip("\x00") in GPU_NODE_NAMES or short in GPU_NODE_NAMES:
            return folder
    return None


def jetson_clocks_state() -> tuple[bool | None, str]:
    """jetson_clocks pins minimum clocks to maximum: GPU devfreq and every CPU's cpufreq."""
    pairs: list[tuple[str, str]] = []
    gpu = find_gpu_devfreq()
    if gpu:
        pairs.append((f"{gpu}/min_freq", f"{gpu}/max_freq"))
    pairs += [(f"{c}/scaling_min_freq", f"{c}/scaling_max_freq")
              for c in sysroot.glob_paths(CPUFREQ_GLOB)]
    if not pairs:
        return None, "no GPU devfreq or cpufreq folders to compare"
    for low_path, high_path in pairs:
        low, why = read_sys_number(low_path)
        high, why_high = read_sys_number(high_path)
        if low is None or high is None:
            return None, why or why_high or "unreadable"
        if low != high:
            return False, f"{low_path} below max"
    return True, "GPU and CPU minimum clocks pinned to maximum"


def power_mode() -> tuple[int | None, str | None]:
    config = nvpmodel.read_config()
    mode_id = nvpmodel.current_mode_id()
    mode = config.by_id(mode_id) if config and mode_id is not None else None
    return mode_id, mode.name if mode else None


class JetsonSysfsSource(Source):
    name = "jetson"

    def __init__(self, power_and_gpu: bool = True) -> None:
        super().__init__()
        # False when jtop supplies rails and GPU figures: this source then adds only the rest.
        self.power_and_gpu = power_and_gpu
        self._rails: list[Rail] = []
        self._board_from: Rail | None = None
        self._gpu: str | None = None
        self._gpu_zone: str | None = None
        self._emc = False
        self._ticks = 0
        self._mode: tuple[int | None, str | None] = (None, None)
        self._clocks: tuple[bool | None, str] = (None, "")
        self._clocks_column = False
        self._files: dict[str, SysFile] = {}

    def open(self) -> list[Metric]:
        metrics = self._open_rails() + self._open_gpu() if self.power_and_gpu else []
        metrics += self._open_temperature()
        self._emc = read_sys_number(EMC_RATE_PATH)[0] is not None
        if self._emc:
            self.ok("emc_clock", EMC_RATE_PATH)
            metrics.append(gauge("emc_clock_mhz"))
        else:
            self.unavailable("emc_clock", f"{EMC_RATE_PATH} is readable by root only (debugfs)",
                             fix="run as root")
        self.unavailable("clock_events", "Jetson sysfs has no clock-event (throttle) reasons; "
                         "the GPU clock and temperatures show throttling")
        self._mode = power_mode()
        if self._mode[0] is not None:
            self.ok("nvpmodel", f"{nvpmodel.STATUS_PATH}: mode {self._mode[1]} "
                    f"(id {self._mode[0]})")
            metrics.append(Metric("nvpmodel_mode_id", UINT32))
        else:
            self.unavailable("nvpmodel", f"{nvpmodel.STATUS_PATH} is missing or unreadable",
                             fix="sudo nvpmodel -q (once) creates it")
        self._clocks = jetson_clocks_state()
        if self._clocks[0] is None:
            self.unavailable("jetson_clocks", self._clocks[1])
        else:
            self._clocks_column = True
            self.ok("jetson_clocks", f"{'on' if self._clocks[0] else 'off'} "
                    "(GPU devfreq and cpufreq min == max)")
            metrics.append(Metric("jetson_clocks_on", UINT32))
        return metrics

    def _open_rails(self) -> list[Metric]:
        rails = find_rails()
        if not rails:
            self.unavailable("rails", "no INA3221 power monitor under /sys/bus/i2c/drivers/ina3221",
                             fix="this board has no on-module power monitor readable from sysfs")
            return []
        metrics = []
        for rail in rails:
            watts, why = rail.read_w()
            if watts is None:
                self.unavailable(f"rail {rail.name}", why or "no reading")
                continue
            self.ok(f"rail {rail.name}", rail.where)
            self._rails.append(rail)
            metrics.append(gauge(rail.column))
        if not self._rails:
            return []
        self._board_from = input_rail(self._rails)
        self.ok("board_power", f"input rail {self._board_from.name}" if self._board_from
                else "sum of all rails (this board has no input rail)")
        return [*metrics, gauge(BOARD_COLUMN)]

    def _open_gpu(self) -> list[Metric]:
        self._gpu = find_gpu_devfreq()
        if not self._gpu:
            self.unavailable("gpu_load", "no GPU devfreq device under /sys/class/devfreq")
            return []
        metrics = []
        if read_sys_number(f"{self._gpu}/device/load")[0] is not None:
            self.ok("gpu_load", f"{self._gpu}/device/load (per-mille)")
            metrics.append(gauge("gpu_load_pct"))
        else:
            self.unavailable("gpu_load", read_sys(f"{self._gpu}/device/load")[1] or "no reading")
        if read_sys_number(f"{self._gpu}/cur_freq")[0] is not None:
            self.ok("gpu_clock", f"{self._gpu}/cur_freq")
            metrics.append(gauge("gpu_sm_clock_mhz"))
        else:
            self.unavailable("gpu_clock", read_sys(f"{self._gpu}/cur_freq")[1] or "no reading")
        return metrics

    def _open_temperature(self) -> list[Metric]:
        for zone in sysroot.glob_paths("/sys/class/thermal/thermal_zone*"):
            zone_type = read_sys(f"{zone}/type")[0] or ""
            if re.match(r"gpu", zone_type, re.IGNORECASE):
                self._gpu_zone = f"{zone}/temp"
                self.ok("gpu_temperature", f"{zone}/temp ({zone_type})")
                return [gauge("gpu_temp_c")]
        self.unavailable("gpu_temperature", "no thermal zone of type gpu*")
        return []

    def read(self, values: dict[str, float]) -> None:
        self._ticks += 1
        total = 0.0
        for rail in self._rails:
            if self.is_lost(f"rail {rail.name}"):
                continue
            watts, why = rail.read_w()
            if watts is None:
                self.lose(f"rail {rail.name}", why or "no reading")
                continue
            values[rail.column] = watts
            total += watts
        if self._rails:
            board = values.get(self._board_from.column) if self._board_from else total
            if board is not None:
                values[BOARD_COLUMN] = board
        if self._gpu:
            self._read_number("gpu_load", f"{self._gpu}/device/load", "gpu_load_pct", 0.1, values)
            self._read_number("gpu_clock", f"{self._gpu}/cur_freq", "gpu_sm_clock_mhz", 1e-6,
                              values)
        if self._gpu_zone:
            self._read_number("gpu_temperature", self._gpu_zone, "gpu_temp_c", 1e-3, values)
        if self._emc:
            self._read_number("emc_clock", EMC_RATE_PATH, "emc_clock_mhz", 1e-6, values)
        if self._ticks % SLOW_REFRESH_TICKS == 0:
            self._mode = power_mode()
            if self._clocks_column:
                self._clocks = jetson_clocks_state()
        if self._mode[0] is not None:
            values["nvpmodel_mode_id"] = float(self._mode[0])
        if self._clocks_column and self._clocks[0] is not None:
            values["jetson_clocks_on"] = float(self._clocks[0])

    def _read_number(self, sensor: str, path: str, column: str, scale: float,
                     values: dict[str, float]) -> None:
        status = self._statuses.get(sensor)
        if status is None or not status.available or self.is_lost(sensor):
            return
        file = self._files.get(path)
        if file is None:
            file = self._files[path] = SysFile(path)
        number, why = file.number()
        if number is None:
            self.lose(sensor, why or "no reading")
            return
        values[column] = number * scale

    def facts(self) -> dict[str, Any]:
        mode_id, mode_name = self._mode
        return {"power_mode": mode_name, "power_mode_id": mode_id,
                "jetson_clocks": None if self._clocks[0] is None else self._clocks[0],
                "board_power_from": self._board_from.name if self._board_from
                else ("sum of rails" if self._rails else None),
                "rails": [r.name for r in self._rails],
                "gpu_devfreq": self._gpu}
