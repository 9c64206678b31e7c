"""Jetson power modes as nvpmodel defines them: read from its config, never hard-coded.

``/etc/nvpmodel.conf`` lists ``< POWER_MODEL ID=N NAME=X >`` and ``< PM_CONFIG DEFAULT=N >``;
the current mode is in ``/var/lib/nvpmodel/status`` as ``pmode:000N``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edgeprobe import sysroot

CONF_PATH = "/etc/nvpmodel.conf"
STATUS_PATH = "/var/lib/nvpmodel/status"

_MODEL_RE = re.compile(r"<\s*POWER_MODEL\s+ID\s*=\s*(\d+)\s+NAME\s*=\s*([^\s>]+)\s*>")
_DEFAULT_RE = re.compile(r"<\s*PM_CONFIG\s+DEFAULT\s*=\s*(\d+)\s*>")
_STATUS_RE = re.compile(r"pmode\s*:\s*(\d+)")


@dataclass(frozen=True)
class PowerModel:
    id: int
    name: str


@dataclass(frozen=True)
class NvpmodelConfig:
    modes: tuple[PowerModel, ...]
    default_id: int | None

    def by_name(self, name: str) -> PowerModel | None:
        wanted = name.strip().upper()
        return next((m for m in self.modes if m.name.upper() == wanted), None)

    def by_id(self, mode_id: int) -> PowerModel | None:
        return next((m for m in self.modes if m.id == mode_id), None)


def read_config() -> NvpmodelConfig | None:
    text = sysroot.read_text(CONF_PATH)
    if text is None:
        return None
    modes = tuple(PowerModel(int(i), name) for i, name in _MODEL_RE.findall(text))
    default = _DEFAULT_RE.search(text)
    return NvpmodelConfig(modes=modes, default_id=int(default.group(1)) if default else None)


def current_mode_id() -> int | None:
    text = sysroot.read_text(STATUS_PATH)
    match = _STATUS_RE.search(text or "")
    return int(match.group(1)) if match else None
