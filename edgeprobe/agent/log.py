"""The agent's log: one line per event on standard error, read by the journal under systemd.

Under the journal (``JOURNAL_STREAM`` names the stream that standard error is) a line starts
with its syslog priority (``<6>``, ``<4>``, ``<3>``: the sd-daemon convention, so that
``journalctl -p warning`` works) and carries no time, which the journal adds. Elsewhere a line
starts with a short local time and the level. A traceback is folded into its line.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TextIO

LEVELS = ("debug", "info", "warning", "error")
# logging level -> syslog priority (sd-daemon.h: SD_ERR 3, SD_WARNING 4, SD_INFO 6, SD_DEBUG 7)
PRIORITIES = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
              logging.CRITICAL: 2}


def priority(levelno: int) -> int:
    return next((p for level, p in sorted(PRIORITIES.items(), reverse=True) if levelno >= level),
                7)


def under_journal(stream: TextIO, env: Mapping[str, str] = os.environ) -> bool:
    """True when ``stream`` is the journal stream systemd connected (``JOURNAL_STREAM`` is
    ``device:inode`` of it); a child that inherited the variable with its stderr elsewhere
    is not."""
    value = env.get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    try:
        info = os.fstat(stream.fileno())
        return (int(device), int(inode)) == (info.st_dev, info.st_ino)
    except (ValueError, OSError, AttributeError):
        return False


def one_line(text: str) -> str:
    """Lines joined with `` | ``; control characters (a client's escape sequences) as ``?``."""
    text = " | ".join(part.strip() for part in text.splitlines() if part.strip())
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def cause(exc_info: BaseException) -> str:
    """``Type: message at file:line in function``: where an unexpected error came from."""
    frames = traceback.extract_tb(exc_info.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" \
        if frames else ""
    return f"{type(exc_info).__name__}: {exc_info}{where}"


class LineFormatter(logging.Formatter):
    def __init__(self, journal: bool) -> None:
        super().__init__()
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            message = f"{message} ({cause(record.exc_info[1])})"
        message = one_line(message)
        if self.journal:
            return f"<{priority(record.levelno)}>{message}"
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        return f"{stamp} {record.levelname.lower():<7} {message}"


def setup(level: str = "info", stream: TextIO | None = None,
          env: Mapping[str, str] = os.environ) -> bool:
    """Send every log record to ``stream`` (standard error), one line each, at ``level`` and
    above. Returns whether the lines go to the journal."""
    stream = stream or sys.stderr
    journal = under_journal(stream, env)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LineFormatter(journal))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return journal


def fatal_line(message: str, stream: TextIO | None = None,
               env: Mapping[str, str] = os.environ) -> str:
    """``message`` as the one line a refusing agent ends with: an error for the journal."""
    return f"<3>{message}" if under_journal(stream or sys.stderr, env) else message


@dataclass
class Throttle:
    """At most ``burst`` lines of one kind per ``window_s``; the lines left out are counted
    and said with the next line that goes out (or by ``flush``)."""

    logger: logging.Logger
    burst: int = 10
    window_s: float = 60.0
    window_start_s: float = field(default=-1e18, repr=False)
    sent: int = 0
    skipped: int = 0

    def log(self, level: int, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self.window_start_s >= self.window_s:
            self.window_start_s, self.sent = now, 0
        if self.sent >= self.burst:
            self.skipped += 1
            return
        self.sent += 1
        if self.skipped:
            message += f" (and {self.skipped} like it not logged)"
            self.skipped = 0
        self.logger.log(level, message, *args)

    def flush(self, what: str) -> None:
        if self.skipped:
            self.logger.warning("%d more %s not logged", self.skipped, what)
            self.skipped = 0
