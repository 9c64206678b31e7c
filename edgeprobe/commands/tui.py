"""``edgeprobe tui``: live telemetry and runs in the terminal, from the agent or, without
one, sampled in this process."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgeprobe.errors import UsageError
from edgeprobe.telemetry import MAX_RATE_HZ


def main(args: argparse.Namespace) -> int:
    if not 0 < args.rate <= MAX_RATE_HZ:
        raise UsageError(f"--rate must be above 0 and at most {MAX_RATE_HZ:g} Hz")
    from edgeprobe.tui.app import EdgeprobeApp

    app = EdgeprobeApp(socket=Path(args.socket) if args.socket else None, local=args.local,
                       sample_rate_hz=args.rate)
    return int(app.run() or 0)
