"""The one Rich console every command prints through.

On a terminal it lays out for the terminal's width (or ``COLUMNS``). Into a pipe or a file
it neither wraps nor draws boxes: a line per row, as wide as its content, so ``grep`` and
``cut`` see whole values. A reader that stops early (``edgeprobe compare a b | head -1``)
ends the command quietly with exit status 0 instead of Rich's status 1.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from edgeprobe.errors import ReaderGone

PIPE_WIDTH = 1000  # columns when stdout is not a terminal: rows are never wrapped


class _Console(Console):
    plain_tables = False

    def print(self, *objects: Any, **options: Any) -> None:
        if self.plain_tables:
            for table in objects:
                if isinstance(table, Table):
                    table.box = None
                    table.pad_edge = False
        super().print(*objects, **options)

    def on_broken_pipe(self) -> None:
        self.quiet = True
        # Later writes (and the interpreter's final flush) go nowhere instead of failing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise ReaderGone


def terminal() -> Console:
    """A console for stdout; see the module's docstring."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return _Console()
    console = _Console(width=PIPE_WIDTH, soft_wrap=True)
    console.plain_tables = True
    return console
