"""Device profiles: memory, power modes and thermal limits of a board or GPU, auto-detected."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeprobe.errors import ProfileError
from edgeprobe.suite.profiles import names_in, profiles_dir, read_toml, require

KINDS = ("jetson", "discrete", "cpu")


@dataclass(frozen=True)
class ThermalLimits:
    start_c: float  # wait until the hottest sensor is under this before each point
    limit_c: float  # above this during a point, the point is marked throttled
    critical_c: float  # above this, the run stops cleanly
    cooldown_timeout_s: float = 300.0


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    display_name: str
    kind: str
    match: tuple[str, ...]
    thermal: ThermalLimits
    memory_bytes: int | None = None
    default_suite: str = "smoke"
    power_limits_w: dict[str, float] = field(default_factory=dict)
    notes: str = ""
    path: Path | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "display_name": self.display_name, "kind": self.kind,
                "memory_bytes": self.memory_bytes, "default_suite": self.default_suite,
                "power_limits_w": self.power_limits_w,
                "thermal": {"start_c": self.thermal.start_c, "limit_c": self.thermal.limit_c,
                            "critical_c": self.thermal.critical_c,
                            "cooldown_timeout_s": self.thermal.cooldown_timeout_s}}


def _parse(data: dict[str, Any], where: Path) -> DeviceProfile:
    kind = require(data, "kind", str, where)
    if kind not in KINDS:
        raise ProfileError(f"{where}: kind must be one of {', '.join(KINDS)}")
    thermal = require(data, "thermal", dict, where)
    try:
        limits = ThermalLimits(float(thermal["start_c"]), float(thermal["limit_c"]),
                               float(thermal["critical_c"]),
                               float(thermal.get("cooldown_timeout_s", 300.0)))
    except (KeyError, TypeError, ValueError):
        raise ProfileError(f"{where}: [thermal] needs numbers start_c, limit_c, critical_c") \
            from None
    if not limits.start_c < limits.limit_c < limits.critical_c:
        raise ProfileError(f"{where}: thermal limits must rise: start_c < limit_c < critical_c")
    modes = data.get("power_limits_w", {})
    if not isinstance(modes, dict) or not all(isinstance(v, (int, float)) for v in modes.values()):
        raise ProfileError(f"{where}: [power_limits_w] maps mode names to watts")
    return DeviceProfile(
        name=require(data, "name", str, where),
        display_name=data.get("display_name", data["name"]),
        kind=kind,
        match=tuple(data.get("match", [])),
        thermal=limits,
        memory_bytes=data.get("memory_bytes"),
        default_suite=data.get("default_suite", "smoke"),
        power_limits_w={k: float(v) for k, v in modes.items()},
        notes=data.get("notes", ""),
        path=where,
    )


def list_device_profiles() -> list[str]:
    return names_in("devices")


def load_device_profile(name: str) -> DeviceProfile:
    path = profiles_dir() / "devices" / f"{name}.toml"
    if not path.is_file():
        close = difflib.get_close_matches(name, list_device_profiles(), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else \
            f" (known: {', '.join(list_device_profiles())})"
        raise ProfileError(f"unknown device profile {name!r}{hint}")
    return _parse(read_toml(path), path)


def detect_device_profile(names: list[str | None]) -> DeviceProfile:
    """The profile whose ``match`` strings occur in a device name (Jetson model, GPU name),
    the longest match winning; the generic profile of the right kind otherwise."""
    haystack = [n.lower() for n in names if n]
    best: tuple[int, DeviceProfile] | None = None
    profiles = [load_device_profile(n) for n in list_device_profiles()]
    for profile in profiles:
        for pattern in profile.match:
            if any(pattern.lower() in text for text in haystack) and (
                    best is None or len(pattern) > best[0]):
                best = (len(pattern), profile)
    if best:
        return best[1]
    fallback = "generic-gpu" if haystack else "generic-cpu"
    return load_device_profile(fallback)
