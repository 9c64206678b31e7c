"""How a command that read bundles reports their integrity: one line each on stderr."""

from __future__ import annotations

import sys
from typing import TextIO

from edgeprobe.bundle.clean import safe_text

UNVERIFIED = "unverified: written before bundles carried checksums"
DAMAGED_EXIT = 2


def report(path: object, *, damaged: bool, damage: str | None, verified: bool,
           stream: TextIO | None = None) -> int:
    """Say what is wrong with a bundle that was read; the exit code it calls for (0, or 2
    for a damaged bundle, whose records before the damage were used)."""
    out = stream or sys.stderr
    name = safe_text(str(path))
    if damaged:
        out.write(f"edgeprobe: {name}: {damage}\n")
        return DAMAGED_EXIT
    if not verified:
        out.write(f"edgeprobe: note: {name}: {UNVERIFIED}\n")
    return 0
