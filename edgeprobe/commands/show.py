"""``edgeprobe show BUNDLE``: header, warnings and the results table (or JSON)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console

from edgeprobe.analysis.figures import flat_point
from edgeprobe.analysis.kernels import kernel_records
from edgeprobe.analysis.render import header_lines, print_bundle, print_kernels
from edgeprobe.analysis.timing import timing_lines
from edgeprobe.bundle import Bundle, read_bundle
from edgeprobe.commands.console import terminal
from edgeprobe.commands.integrity import report
from edgeprobe.errors import UsageError


def _document(bundle: Bundle) -> dict[str, Any]:
    return {
        "path": str(bundle.path),
        "schema_version": bundle.header.get("schema_version"),
        "complete": bundle.complete,
        "truncated": bundle.truncated,
        "damage": bundle.damage,
        "damaged": bundle.damaged,
        "verified": bundle.verified,
        "device": bundle.header.get("device"),
        "power": bundle.header.get("power"),
        "suite": {k: v for k, v in bundle.header.get("suite", {}).items() if k != "definition"},
        "settings": bundle.header.get("settings"),
        "software": bundle.header.get("software"),
        "models": bundle.models,
        "points": [flat_point(p) for p in bundle.points],
        "max_context": bundle.max_context,
        "kernels": kernel_records(bundle),
        "events": bundle.events,
        "footer": bundle.footer,
        "sessions": bundle.sessions,
        "resumable": bundle.resumable,
        "superseded_seqs": sorted(bundle.superseded_seqs),
    }


def _print(console: Console, bundle: Bundle, args: argparse.Namespace) -> None:
    if args.kernels or args.timing:
        for line in header_lines(bundle, console.width):  # paths stay whole
            console.print(line, highlight=False, markup=False, soft_wrap=True)
    if args.timing:
        for line in timing_lines(bundle):
            console.print(line, highlight=False, markup=False)
    if args.kernels:
        print_kernels(console, bundle, args.top)
    if not (args.kernels or args.timing):
        print_bundle(console, bundle)


def main(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise UsageError("--top must be at least 1")
    bundles = [read_bundle(path) for path in args.bundles]  # a bad path fails before output
    if args.json:
        documents = [_document(bundle) for bundle in bundles]
        print(json.dumps(documents[0] if len(documents) == 1 else documents, indent=2,
                         default=str))
    else:
        console = terminal()
        for index, bundle in enumerate(bundles):
            if index:
                console.print()
            _print(console, bundle, args)
    sys.stdout.flush()
    return max(report(bundle.path, damaged=bundle.damaged, damage=bundle.damage,
                      verified=bundle.verified) for bundle in bundles)
