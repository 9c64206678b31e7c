"""Jetson power modes as nvpmodel defines them: read from its config, never hard-coded.

``/etc/nvpmodel.conf`` lists ``< POWER_MODEL ID=N NAME=X >`` blocks (each followed by
``PARAM ARG VALUE`` lines) and ``< PM_CONFIG DEFAULT=N >``; the current mode is in
``/var/lib/nvpmodel/status`` as ``pmode:000N``, or printed by ``nvpmodel -q``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from edgeprobe import sysroot

CONF_PATH = "/etc/nvpmodel.conf"
STATUS_PATH = "/var/lib/nvpmodel/status"

_MODEL_RE = re.compile(r"^<\s*POWER_MODEL\s+ID\s*=\s*(\d+)\s+NAME\s*=\s*([^\s>]+)\s*>")
_DEFAULT_RE = re.compile(r"<\s*PM_CONFIG\s+DEFAULT\s*=\s*(\d+)\s*>")
_BLOCK_RE = re.compile(r"^<")
_STATUS_RE = re.compile(r"pmode\s*:\s*(\d+)")
_QUERY_RE = re.compile(r"NV Power Mode:\s*(\S+)\s*\n\s*(\d+)")

# A switch that changes which GPU TPCs are power-gated only takes effect after a reboot;
# nvpmodel then asks for confirmation on stdin.
REBOOT_PARAMS = ("TPC_POWER_GATING",)


@dataclass(frozen=True)
class PowerModel:
    id: int
    name: str
    settings: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def setting(self, param: str) -> str | None:
        return next((value for name, value in self.settings if name == param), None)


@dataclass(frozen=True)
class NvpmodelConfig:
    modes: tuple[PowerModel, ...]
    default_id: int | None

    def by_name(self, name: str) -> PowerModel | None:
        wanted = name.strip().upper()
        exact = next((m for m in self.modes if m.name.upper() == wanted), None)
        if exact:
            return exact
        # AGX Orin names its modes MODE_15W etc.; accept 15W for those.
        return next((m for m in self.modes if m.name.upper() == f"MODE_{wanted}"), None)

    def by_id(self, mode_id: int) -> PowerModel | None:
        return next((m for m in self.modes if m.id == mode_id), None)

    def needs_reboot(self, current: PowerModel | None, target: PowerModel) -> bool:
        if current is None or current.id == target.id:
            return False
        return any(current.setting(p) != target.setting(p) for p in REBOOT_PARAMS)


def parse_config(text: str) -> NvpmodelConfig:
    modes: list[PowerModel] = []
    current: tuple[int, str] | None = None
    settings: list[tuple[str, str]] = []

    def close() -> None:
        if current is not None:
            modes.append(PowerModel(current[0], current[1], tuple(settings)))

    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _MODEL_RE.match(line)
        if match:
            close()
            current, settings = (int(match.group(1)), match.group(2)), []
        elif _BLOCK_RE.match(line):
            close()
            current, settings = None, []
        elif current is not None:
            parts = line.split()
            if len(parts) >= 2:
                settings.append((parts[0], " ".join(parts[1:])))
    close()
    default = _DEFAULT_RE.search(text)
    return NvpmodelConfig(modes=tuple(modes), default_id=int(default.group(1)) if default else None)


def read_config() -> NvpmodelConfig | None:
    text = sysroot.read_text(CONF_PATH)
    return parse_config(text) if text is not None else None


def current_mode_id() -> int | None:
    text = sysroot.read_text(STATUS_PATH)
    match = _STATUS_RE.search(text or "")
    return int(match.group(1)) if match else None


def parse_query(output: str) -> tuple[str, int] | None:
    """``nvpmodel -q`` prints ``NV Power Mode: MAXN`` and the id on the next line."""
    match = _QUERY_RE.search(output)
    return (match.group(1), int(match.group(2))) if match else None
