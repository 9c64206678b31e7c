"""``edgeprobe export BUNDLE --to csv|json|parquet``: a bundle's tables for other tools."""

from __future__ import annotations

import argparse
import json
import sys

from edgeprobe.analysis.export import csv_text, export_bundle, export_document
from edgeprobe.analysis.tables import point_columns, point_rows
from edgeprobe.bundle import read_bundle
from edgeprobe.bundle.clean import safe_text
from edgeprobe.commands.integrity import report
from edgeprobe.errors import UsageError


def main(args: argparse.Namespace) -> int:
    if args.out == "-" and args.to == "parquet":
        raise UsageError("--out - (standard output) works with --to csv or json only")
    bundle = read_bundle(args.bundle)
    name = safe_text(str(bundle.path))
    if bundle.truncated and not bundle.damaged:
        sys.stderr.write(f"edgeprobe: warning: {name}: {bundle.damage or 'truncated'}; "
                         f"exporting the {len(bundle.points)} points read\n")
    notes: list[str] = []
    if args.out == "-":
        if args.to == "json":
            sys.stdout.write(json.dumps(export_document(bundle.path.stem, bundle, notes),
                                        indent=1) + "\n")
        else:
            sys.stdout.write(csv_text(point_rows(bundle.path.stem, bundle), point_columns()))
    else:
        for path in export_bundle(bundle, args.to, args.out, notes,
                                  force=args.force):
            print(safe_text(str(path)))
    sys.stdout.flush()
    for note in notes:
        sys.stderr.write(f"edgeprobe: warning: {name}: {note}; the samples before it are "
                         f"exported\n")
    return report(bundle.path, damaged=bundle.damaged, damage=bundle.damage,
                  verified=bundle.verified)
