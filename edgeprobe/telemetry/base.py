"""What every telemetry source shares: metric declarations, sensor status, safe file reads.

A source never raises out of ``read``: a sensor that cannot be read becomes
``unavailable: why`` (reported once, in its status and as a notice) and is not polled again.
"""

from __future__ import annotations

import errno
import math
import os
from dataclasses import asdict, dataclass
from typing import Any

from edgeprobe import sysroot

NAN = math.nan

# Column encodings in the timeline (little-endian): 32-bit float, 64-bit float, 32-bit uint.
FLOAT32, FLOAT64, UINT32 = "f4", "f8", "u4"


@dataclass(frozen=True)
class Metric:
    """One column of telemetry. The name carries the unit (``_w``, ``_j``, ``_c``, ...)."""

    name: str
    dtype: str = FLOAT32
    # A monotonically growing counter (energy): windows difference it instead of integrating.
    counter: bool = False


def gauge(name: str) -> Metric:
    # Byte counts exceed float32's exact range; keep them in float64.
    return Metric(name, FLOAT64 if name.endswith("_bytes") else FLOAT32)


@dataclass(frozen=True)
class SensorStatus:
    """Whether one sensor works, where it is read from, or why not and how to fix that."""

    source: str
    sensor: str
    available: bool
    detail: str
    fix: str | None = None

    def line(self) -> str:
        text = self.detail if self.available else f"unavailable: {self.detail}"
        return f"{text} (fix: {self.fix})" if self.fix and not self.available else text

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Source:
    """Base of every sampler source: declares metrics, reads them, reports what it can't."""

    name = "source"

    def __init__(self) -> None:
        self._statuses: dict[str, SensorStatus] = {}
        self._notices: list[str] = []
        self._lost: set[str] = set()

    def open(self) -> list[Metric]:
        """Probe the sensors; return the metrics this source will fill."""
        return []

    def read(self, values: dict[str, float]) -> None:
        """Put this tick's readings into ``values``; must not raise."""

    def facts(self) -> dict[str, Any]:
        """Slow-changing facts (device name, power mode) for reports and the bundle header."""
        return {}

    def close(self) -> None:
        """Release handles."""

    # -- status bookkeeping -----------------------------------------------------------------
    def ok(self, sensor: str, detail: str) -> None:
        self._statuses[sensor] = SensorStatus(self.name, sensor, True, detail)

    def unavailable(self, sensor: str, why: str, fix: str | None = None) -> None:
        self._statuses[sensor] = SensorStatus(self.name, sensor, False, why, fix)

    def lose(self, sensor: str, why: str) -> None:
        """A sensor that worked failed while sampling: report once and stop polling it."""
        if sensor in self._lost:
            return
        self._lost.add(sensor)
        self.unavailable(sensor, why)
        self._notices.append(f"{self.name} {sensor} unavailable: {why}")

    def is_lost(self, sensor: str) -> bool:
        return sensor in self._lost

    def statuses(self) -> list[SensorStatus]:
        return list(self._statuses.values())

    def take_notices(self) -> list[str]:
        notices, self._notices = self._notices, []
        return notices


def read_sys(absolute: str, limit: int = 65536) -> tuple[str | None, str | None]:
    """Read a file under the sensor root: ``(text, None)`` or ``(None, why it failed)``."""
    return SysFile(absolute).text(limit)


def read_sys_number(absolute: str) -> tuple[float | None, str | None]:
    return SysFile(absolute).number()


class SysFile:
    """A sensor file, resolved under the sensor root once and read afresh on every call.

    Sampling reads the same few files many times a second: this skips rebuilding the path
    (the costly part of a read) but still opens the file each time, so a file that goes
    away is noticed.
    """

    __slots__ = ("absolute", "resolved")

    def __init__(self, absolute: str) -> None:
        self.absolute = absolute
        self.resolved = os.fspath(sysroot.path(absolute))

    def raw(self, limit: int = 4096) -> tuple[bytes | None, str | None]:
        try:
            fd = os.open(self.resolved, os.O_RDONLY)
        except OSError as exc:
            return None, describe_os_error(self.absolute, exc)
        try:
            return os.read(fd, limit), None
        except OSError as exc:
            return None, describe_os_error(self.absolute, exc)
        finally:
            os.close(fd)

    def text(self, limit: int = 65536) -> tuple[str | None, str | None]:
        data, why = self.raw(limit)
        return (data.decode(errors="replace").strip() if data is not None else None), why

    def number(self) -> tuple[float | None, str | None]:
        data, why = self.raw()
        if data is None:
            return None, why
        try:
            return float(data.split()[0]), None
        except (ValueError, IndexError):
            return None, f"{self.absolute} holds {data[:40]!r}, not a number"


def describe_os_error(absolute: str, exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{absolute} is not readable by this user"
    if exc.errno == errno.ENOENT:
        return f"{absolute} does not exist"
    return f"cannot read {absolute}: {exc.strerror or exc}"


def permission_fix(absolute: str) -> str:
    return f"run as root, or `sudo chmod a+r {absolute}`"


def is_readable_error(why: str | None) -> bool:
    return bool(why) and "not readable" in (why or "")


def user_groups() -> set[str]:
    import grp

    names = set()
    for gid in os.getgroups():
        try:
            names.add(grp.getgrgid(gid).gr_name)
        except KeyError:
            continue
    return names

