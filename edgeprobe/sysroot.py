"""The sensor root: every read of /sys, /proc, /etc and /var/lib goes through here.

``EDGEPROBE_SYSFS_ROOT`` (default ``/``) is prefixed to absolute paths, so tests and people
reproducing a Jetson on a PC can point edgeprobe at a recorded tree.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

ENV_VAR = "EDGEPROBE_SYSFS_ROOT"


def root() -> Path:
    return Path(os.environ.get(ENV_VAR) or "/")


def path(absolute: str | os.PathLike[str]) -> Path:
    """Map an absolute system path (``/sys/...``) into the sensor root."""
    text = os.fspath(absolute)
    return root() / text.lstrip("/")


def read_text(absolute: str | os.PathLike[str]) -> str | None:
    """The file's text, stripped; None when it is missing or unreadable."""
    try:
        return path(absolute).read_text(errors="replace").strip()
    except OSError:
        return None


def read_int(absolute: str | os.PathLike[str]) -> int | None:
    text = read_text(absolute)
    if text is None:
        return None
    try:
        return int(text.split()[0])
    except (ValueError, IndexError):
        return None


def glob_paths(pattern: str) -> list[str]:
    """Glob an absolute pattern inside the root; results are absolute system paths again."""
    base = root()
    found = glob.glob(str(base / pattern.lstrip("/")))
    prefix = str(base).rstrip("/")
    return sorted("/" + p[len(prefix) :].lstrip("/") for p in found)
