"""``edgeprobe models`` and ``edgeprobe suites``: what can be run."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from edgeprobe.commands.console import terminal
from edgeprobe.suite import list_presets, list_suites, load_preset, load_suite
from edgeprobe.units import format_tokens


def _models(args: argparse.Namespace, console: Console) -> None:
    presets = [load_preset(name) for name in list_presets()]
    if args.json:
        print(json.dumps([p.as_dict() for p in presets], indent=2))
        return
    table = Table(header_style="bold", pad_edge=False)
    for column in ("model", "family", "implementations", "study ran", "published size",
                   "shape from"):
        table.add_column(column)
    for p in sorted(presets, key=lambda p: (p.tiny, p.family, p.name)):
        size = f"{p.published_params / 1e9:.2f} B" if p.published_params else "tiny"
        table.add_row(p.name, p.family, ", ".join(p.implementations), p.study_implementation,
                      size, p.checkpoint or "edgeprobe tiny preset")
    console.print(table)


def _suites(args: argparse.Namespace, console: Console) -> None:
    suites = [load_suite(name) for name in list_suites()]
    if args.json:
        print(json.dumps([{"name": s.name, "version": s.version, "description": s.description,
                           "models": list(s.models), "lengths": list(s.lengths),
                           "sha256": s.content_hash()} for s in suites], indent=2))
        return
    table = Table(header_style="bold", pad_edge=False)
    for column in ("suite", "version", "models", "lengths", "description"):
        table.add_column(column)
    for s in suites:
        lengths = sorted({*s.lengths, *(n for v in s.lengths_by_family.values() for n in v)})
        table.add_row(s.name, str(s.version), str(len(s.models)),
                      f"{format_tokens(lengths[0])} .. {format_tokens(lengths[-1])}", s.description)
    console.print(table)


def main(args: argparse.Namespace) -> int:
    console = terminal()
    (_models if args.command == "models" else _suites)(args, console)
    return 0
