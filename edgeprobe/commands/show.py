"""``edgeprobe show BUNDLE``: header, warnings and the results table (or JSON)."""

from __future__ import annotations

import argparse
import json

from rich.console import Console

from edgeprobe.analysis.figures import flat_point
from edgeprobe.analysis.render import print_bundle
from edgeprobe.bundle import read_bundle


def main(args: argparse.Namespace) -> int:
    bundle = read_bundle(args.bundle)
    if args.json:
        document = {
            "path": str(bundle.path),
            "schema_version": bundle.header.get("schema_version"),
            "complete": bundle.complete,
            "truncated": bundle.truncated,
            "damage": bundle.damage,
            "device": bundle.header.get("device"),
            "power": bundle.header.get("power"),
            "suite": {k: v for k, v in bundle.header.get("suite", {}).items() if k != "definition"},
            "settings": bundle.header.get("settings"),
            "software": bundle.header.get("software"),
            "models": bundle.models,
            "points": [flat_point(p) for p in bundle.points],
            "max_context": bundle.max_context,
            "events": bundle.events,
            "footer": bundle.footer,
        }
        print(json.dumps(document, indent=2, default=str))
        return 0
    print_bundle(Console(), bundle)
    return 0
