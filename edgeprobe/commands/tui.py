"""``edgeprobe tui``: live telemetry and runs in the terminal, from the agent or, without
one, sampled in this process."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from edgeprobe.errors import UsageError
from edgeprobe.telemetry import MAX_RATE_HZ


def main(args: argparse.Namespace) -> int:
    if not 0 < args.rate <= MAX_RATE_HZ:
        raise UsageError(f"--rate must be above 0 and at most {MAX_RATE_HZ:g} Hz")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        # A full-screen app into a file or a pipe would write escape codes until killed.
        raise UsageError("the TUI needs a terminal; for one snapshot into a pipe or a file "
                         "use `edgeprobe status` (or `edgeprobe status --json`)")
    from edgeprobe.tui.app import EdgeprobeApp

    # A full-screen app must ask the terminal for its size: an exported COLUMNS/LINES (left
    # over from a script, or set for another program) would lay the screen out too wide.
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)
    app = EdgeprobeApp(socket=Path(args.socket) if args.socket else None, local=args.local,
                       sample_rate_hz=args.rate)
    return int(app.run() or 0)
