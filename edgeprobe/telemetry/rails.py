"""INA3221 power rails on Jetson boards, in both sysfs layouts.

- hwmon (JetPack 5.1+/6): ``/sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*/inN_label`` with
  ``inN_input`` (bus voltage, mV) and ``currN_input`` (mA).
- iio (older kernels): ``/sys/bus/i2c/drivers/ina3221/*/iio:device*/rail_name_N`` with
  ``in_powerN_input`` (mW).

Channels labelled ``NC`` are not connected; hwmon channel 7 is the sum of shunt voltages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from edgeprobe import sysroot
from edgeprobe.telemetry.base import SysFile, read_sys

HWMON_GLOB = "/sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*/in*_label"
IIO_GLOB = "/sys/bus/i2c/drivers/ina3221/*/iio:device*/rail_name_*"
# The board's input rail where the board has one (Orin Nano/NX: VDD_IN; Xavier/Nano: POM_5V_IN);
# otherwise the board total is the sum of the rails.
INPUT_RAILS = ("VDD_IN", "POM_5V_IN")


@dataclass(frozen=True)
class Rail:
    name: str
    layout: str  # hwmon | iio
    where: str
    power_path: str | None = None  # iio: mW
    volt_path: str | None = None  # hwmon: mV
    curr_path: str | None = None  # hwmon: mA
    _files: list[SysFile] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        paths = [self.power_path] if self.power_path else [self.volt_path, self.curr_path]
        self._files.extend(SysFile(p) for p in paths if p)

    @property
    def column(self) -> str:
        return f"rail_{re.sub(r'[^a-z0-9]+', '_', self.name.lower()).strip('_')}_power_w"

    def read_w(self) -> tuple[float | None, str | None]:
        if self.power_path:
            milliwatts, why = self._files[0].number()
            return (milliwatts / 1000.0 if milliwatts is not None else None), why
        millivolts, why = self._files[0].number()
        if millivolts is None:
            return None, why
        milliamps, why = self._files[1].number()
        if milliamps is None:
            return None, why
        return millivolts * milliamps / 1e6, None


def _connected(label: str) -> bool:
    return label.strip().upper() != "NC" and "sum of shunt" not in label.lower()


def find_rails() -> list[Rail]:
    rails: list[Rail] = []
    for label_path in sysroot.glob_paths(HWMON_GLOB):
        folder, file_name = label_path.rsplit("/", 1)
        channel = file_name[2:].split("_", 1)[0]
        label = read_sys(label_path)[0] or ""
        if not channel.isdigit() or not _connected(label) or channel == "7":
            continue
        device = folder.split("/ina3221/", 1)[1].split("/", 1)[0]
        rails.append(Rail(label, "hwmon", f"ina3221 {device} hwmon channel {channel}",
                          volt_path=f"{folder}/in{channel}_input",
                          curr_path=f"{folder}/curr{channel}_input"))
    for name_path in sysroot.glob_paths(IIO_GLOB):
        folder, file_name = name_path.rsplit("/", 1)
        channel = file_name.rsplit("_", 1)[1]
        label = read_sys(name_path)[0] or ""
        if not channel.isdigit() or not _connected(label):
            continue
        device = folder.split("/ina3221/", 1)[1].split("/", 1)[0]
        rails.append(Rail(label, "iio", f"ina3221 {device} iio channel {channel}",
                          power_path=f"{folder}/in_power{channel}_input"))
    return rails


def input_rail(rails: list[Rail]) -> Rail | None:
    by_name = {r.name.upper(): r for r in rails}
    return next((by_name[name] for name in INPUT_RAILS if name in by_name), None)
