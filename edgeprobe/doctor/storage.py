"""Room for bundles: the data folder (``EDGEPROBE_DATA_DIR`` or the user data folder) must
be creatable, writable, and on a file system with space left."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from edgeprobe.agent.paths import bundle_dir
from edgeprobe.doctor.result import FAIL, OK, WARN, Check
from edgeprobe.units import format_bytes

# Bundles are tens of kB to a few MB (telemetry chunks grow with run time); worker logs and
# the model cache of a checkpoint run need more. Below MIN a run can fill the disk mid-bundle.
MIN_FREE_BYTES = 100 * 2**20
LOW_FREE_BYTES = 2**30


def _nearest_existing(folder: Path) -> Path:
    current = folder
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def check_disk(folder: Path | None = None) -> Check:
    title = "disk space for bundles"
    folder = folder or bundle_dir()
    existing = _nearest_existing(folder)
    data = {"folder": str(folder)}
    fix_folder = "point EDGEPROBE_DATA_DIR at a folder you can write"
    if not existing.is_dir():
        return Check("disk", title, FAIL,
                     f"{folder} cannot be created: {existing} is not a folder", fix_folder, data)
    if not os.access(existing, os.W_OK | os.X_OK):
        return Check("disk", title, FAIL, f"{existing} is not writable for this user",
                     fix_folder, data)
    free = shutil.disk_usage(existing).free
    data["free_bytes"] = free
    where = f"{format_bytes(free)} free for {folder}"
    if free < MIN_FREE_BYTES:
        return Check("disk", title, FAIL, where, "free some space, or " + fix_folder, data)
    if free < LOW_FREE_BYTES:
        return Check("disk", title, WARN, where + " (under 1 GiB)",
                     "free some space, or " + fix_folder, data)
    return Check("disk", title, OK, where, data=data)
