"""Opening files named by a user or found in a folder: regular files only, never blocking."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from edgeprobe.errors import EdgeprobeError


def _display(path: Path) -> str:
    # Local import: bundle/ imports this module too.
    from edgeprobe.bundle.clean import safe_text

    return safe_text(str(path))


def open_regular(path: Path, what: str, error: type[EdgeprobeError] = EdgeprobeError,
                 max_bytes: int | None = None) -> BinaryIO:
    """Open a regular file for reading. A FIFO, device, socket or folder is refused at once
    (opening never waits for a writer), and so is a file larger than ``max_bytes``."""
    name = _display(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise error(f"{name}: no such file") from None
    except IsADirectoryError:
        raise error(f"{name}: is a directory, not {what}") from None
    except OSError as exc:
        raise error(f"{name}: cannot open ({exc.strerror or 'error'})") from None
    info = os.fstat(fd)
    problem = None
    if stat.S_ISDIR(info.st_mode):
        problem = f"is a directory, not {what}"
    elif not stat.S_ISREG(info.st_mode):
        problem = f"is not a regular file (a pipe, device or socket), not {what}"
    elif max_bytes is not None and info.st_size > max_bytes:
        problem = f"is {info.st_size} bytes, too large for {what}"
    if problem is not None:
        os.close(fd)
        raise error(f"{name}: {problem}")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")
