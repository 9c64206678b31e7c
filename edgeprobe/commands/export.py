"""``edgeprobe export BUNDLE --to csv|json|parquet``: a bundle's tables for other tools."""

from __future__ import annotations

import argparse
import json
import sys

from edgeprobe.analysis.export import csv_text, export_bundle, export_document
from edgeprobe.analysis.tables import point_columns, point_rows
from edgeprobe.bundle import read_bundle
from edgeprobe.errors import UsageError


def main(args: argparse.Namespace) -> int:
    if args.out == "-" and args.to == "parquet":
        raise UsageError("--out - (standard output) works with --to csv or json only")
    bundle = read_bundle(args.bundle)
    if bundle.truncated or bundle.damage:
        sys.stderr.write(f"edgeprobe: warning: {bundle.path}: "
                         f"{bundle.damage or 'truncated'}; exporting the "
                         f"{len(bundle.points)} points read\n")
    if args.out == "-":
        if args.to == "json":
            sys.stdout.write(json.dumps(export_document(bundle.path.stem, bundle), indent=1)
                             + "\n")
        else:
            sys.stdout.write(csv_text(point_rows(bundle.path.stem, bundle), point_columns()))
        return 0
    for path in export_bundle(bundle, args.to, args.out):
        print(path)
    return 0
