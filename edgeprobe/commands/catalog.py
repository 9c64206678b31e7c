"""``edgeprobe models`` and ``edgeprobe suites``: what can be run."""

from __future__ import annotations

import argparse
import json
import textwrap

from rich.console import Console

from edgeprobe.analysis.textlayout import Grid, layout
from edgeprobe.commands.console import terminal
from edgeprobe.suite import list_presets, list_suites, load_preset, load_suite
from edgeprobe.units import format_tokens


def _print_lines(console: Console, lines: list[str]) -> None:
    for line in lines:
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def _models(args: argparse.Namespace, console: Console) -> None:
    presets = [load_preset(name) for name in list_presets()]
    if args.json:
        print(json.dumps([p.as_dict() for p in presets], indent=2))
        return
    rows = []
    for p in sorted(presets, key=lambda p: (p.tiny, p.family, p.name)):
        size = f"{p.published_params / 1e9:.2f} B" if p.published_params else "tiny"
        rows.append([p.name, p.family, ",".join(p.implementations), p.study_implementation,
                     size, p.checkpoint or "edgeprobe tiny preset"])
    # The names one types into --models always show whole; where the shape came from goes
    # first when the terminal is narrow (`models --json` has it).
    grid = Grid("", ["model", "family", "implementations", "study ran", "size", "shape from"],
                rows, right_aligned={4}, droppable=(5,))
    _print_lines(console, layout(grid, console.width))


def _suites(args: argparse.Namespace, console: Console) -> None:
    suites = [load_suite(name) for name in list_suites()]
    if args.json:
        print(json.dumps([{"name": s.name, "version": s.version, "description": s.description,
                           "models": list(s.models), "lengths": list(s.lengths),
                           "sha256": s.content_hash()} for s in suites], indent=2))
        return
    lines = []
    for s in suites:  # a line to type from, then what the suite is for
        lengths = sorted({*s.lengths, *(n for v in s.lengths_by_family.values() for n in v)})
        lines.append(f"{s.name} (version {s.version}): {len(s.models)} models, "
                     f"{format_tokens(lengths[0])}-{format_tokens(lengths[-1])} tokens")
        lines += textwrap.wrap(s.description, max(40, console.width), initial_indent="  ",
                               subsequent_indent="  ", break_long_words=False,
                               break_on_hyphens=False)
    _print_lines(console, lines)


def main(args: argparse.Namespace) -> int:
    console = terminal()
    (_models if args.command == "models" else _suites)(args, console)
    return 0
