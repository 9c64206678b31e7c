"""Jetson figures through the jtop service (jetson-stats), when it is reachable.

jetson-stats is AGPL-3.0 and optional (``edgeprobe[jetson]``): it is imported only here, only
after the service socket was found, never at module level. When the service cannot be
reached the jetson sysfs source does the whole job; ``reachability`` says why.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import stat
from dataclasses import dataclass
from typing import Any

from edgeprobe import sysroot
from edgeprobe.telemetry.base import Metric, Source, gauge, user_groups

SOCKET_PATH = "/run/jtop.sock"


@dataclass(frozen=True)
class Reachability:
    reachable: bool
    why: str
    fix: str | None = None


def reachability() -> Reachability:
    """Can this process talk to the jtop service? Checked without importing jetson-stats."""
    sock = sysroot.path(SOCKET_PATH)
    try:
        mode = sock.stat().st_mode
    except OSError:
        return Reachability(False, f"jtop service not reachable: {SOCKET_PATH} does not exist",
                            "sudo systemctl restart jtop.service (installed by jetson-stats)")
    if not stat.S_ISSOCK(mode):
        return Reachability(False, f"jtop service not reachable: {SOCKET_PATH} is not a socket",
                            "sudo systemctl restart jtop.service")
    if os.geteuid() != 0 and not os.access(sock, os.R_OK | os.W_OK):
        in_group = "jtop" in user_groups()
        return Reachability(False, f"no permission to use {SOCKET_PATH}",
                            "log out and in again (the group change is not active yet)"
                            if in_group else "add your user to group jtop: "
                            "sudo usermod -aG jtop $USER, then log in again")
    if importlib.util.find_spec("jtop") is None:
        return Reachability(False, "jetson-stats is not installed in this environment",
                            "pip install 'edgeprobe[jetson]'")
    if str(sysroot.root()) != "/":
        return Reachability(False, f"jtop reads the real board, not the sensor root "
                            f"{sysroot.root()}")
    return Reachability(True, f"jtop service at {SOCKET_PATH}")


def _rail_column(name: str) -> str:
    slug = "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")
    return f"rail_{slug}_power_w"


def metrics_from_jtop(power: Any, gpu: Any) -> dict[str, float]:
    """Readings from jtop's ``power`` and ``gpu`` dictionaries (mW, %, kHz)."""
    values: dict[str, float] = {}
    if isinstance(power, dict):
        for name, rail in (power.get("rail") or {}).items():
            if isinstance(rail, dict) and "power" in rail:
                values[_rail_column(name)] = float(rail["power"]) / 1000.0
        total = power.get("tot") or {}
        if isinstance(total, dict) and "power" in total:
            values["board_power_w"] = float(total["power"]) / 1000.0
    if isinstance(gpu, dict):
        for entry in gpu.values():
            if not isinstance(entry, dict) or entry.get("type") != "integrated":
                continue
            status, freq = entry.get("status") or {}, entry.get("freq") or {}
            if "load" in status:
                values["gpu_load_pct"] = float(status["load"])
            if "cur" in freq:
                values["gpu_sm_clock_mhz"] = float(freq["cur"]) / 1000.0
            break
    return values


class JtopSource(Source):
    """Power rails, board power, GPU load and clock from a running jtop service."""

    name = "jtop"

    def __init__(self, interval_s: float = 0.5) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._client: Any = None
        self._columns: set[str] = set()

    def open(self) -> list[Metric]:
        reach = reachability()
        if not reach.reachable:
            self.unavailable("service", reach.why, reach.fix)
            return []
        try:
            from jtop import jtop  # AGPL, optional: imported only when the service is there

            client = jtop(interval=self.interval_s)
            client.start()
            readings = metrics_from_jtop(client.power, client.gpu)
        except Exception as exc:  # jtop raises its own JtopException and OS errors
            self.unavailable("service", f"jtop did not connect: {str(exc).splitlines()[0]}",
                             "sudo systemctl restart jtop.service")
            return []
        if not readings:
            client.close()
            self.unavailable("service", "jtop answered without power or GPU figures")
            return []
        self._client, self._columns = client, set(readings)
        self.ok("service", f"{reach.why}, updates every {self.interval_s:g} s")
        return [gauge(name) for name in sorted(self._columns)]

    def read(self, values: dict[str, float]) -> None:
        if self._client is None or self.is_lost("service"):
            return
        try:
            if not self._client.ok(spin=False):
                return
            readings = metrics_from_jtop(self._client.power, self._client.gpu)
        except Exception as exc:
            self.lose("service", f"jtop: {str(exc).splitlines()[0] if str(exc) else exc!r}")
            return
        values.update({k: v for k, v in readings.items() if k in self._columns})

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):  # the service may have gone first
                self._client.close()
            self._client = None
