"""``edgeprobe doctor``: every check a device needs before probing, each with its fix.

Exit code 0 when the device is ready (no check failed), 1 when it is not.
"""

from __future__ import annotations

import argparse
import json
import textwrap

from rich.console import Console
from rich.markup import escape

from edgeprobe.commands.console import terminal
from edgeprobe.doctor.checks import run_checks
from edgeprobe.doctor.result import FAIL, OK, SKIP, WARN, Check, Report

_MARKS = {OK: "[green]ok  [/]", WARN: "[yellow]warn[/]", FAIL: "[bold red]FAIL[/]",
          SKIP: "[dim]n/a [/]"}
TITLE_WIDTH = 26


def _print_check(console: Console, check: Check) -> None:
    """``mark title detail``, the detail (and the fix) wrapped under itself at spaces."""
    indent = " " * (5 + TITLE_WIDTH + 1)
    width = max(60, console.width)
    texts = [check.detail]
    if check.fix and check.status in (WARN, FAIL):
        texts.append(f"fix: {check.fix}")
    head = f"{check.title:<{TITLE_WIDTH}} "
    if len(check.title) >= TITLE_WIDTH:  # a long title has the line; the detail goes below
        console.print(_MARKS[check.status] + " " + escape(check.title), highlight=False)
        head = ""
    for number, text in enumerate(texts):
        lines = textwrap.wrap(text, width - len(indent), break_long_words=False,
                              break_on_hyphens=False) or [""]
        for index, line in enumerate(lines):
            lead = (_MARKS[check.status] + " " + escape(head)) if number == index == 0 \
                and head else indent
            console.print(lead + escape(line), highlight=False)


def _summary(console: Console, report: Report) -> None:
    failed = [c.title for c in report.checks if c.status == FAIL]
    if failed:
        console.print(f"[bold red]not ready[/]: {escape(', '.join(failed))}")
    else:
        warned = sum(c.status == WARN for c in report.checks)
        console.print("[bold green]ready[/]" + (f" ({warned} warning(s))" if warned else ""))


def main(args: argparse.Namespace) -> int:
    if args.json:
        report = run_checks(run_models=not args.quick, load_timeout_s=args.timeout)
        print(json.dumps(report.as_dict(), indent=2, default=str))
        return 0 if report.ready else 1
    console = terminal()
    report = run_checks(
        run_models=not args.quick, load_timeout_s=args.timeout,
        on_machine=lambda machine: console.print(
            f"[bold]edgeprobe doctor[/]: {escape(machine['description'])}"),
        on_check=lambda check: _print_check(console, check),
        on_wait=lambda what: console.print(f"[dim]... {escape(what)}[/]", highlight=False))
    _summary(console, report)
    return 0 if report.ready else 1
