"""``edgeprobe doctor``: every check a device needs before probing, each with its fix.

Exit code 0 when the device is ready (no check failed), 1 when it is not.
"""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from edgeprobe.commands.console import terminal
from edgeprobe.doctor.checks import run_checks
from edgeprobe.doctor.result import FAIL, OK, SKIP, WARN, Report

_MARKS = {OK: "[green]ok[/]", WARN: "[yellow]warn[/]", FAIL: "[bold red]FAIL[/]",
          SKIP: "[dim]n/a[/]"}


def _print(report: Report, console: Console) -> None:
    console.print(f"[bold]edgeprobe doctor[/]: {escape(report.machine['description'])}")
    table = Table(show_header=False, box=None, pad_edge=False, padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for check in report.checks:
        table.add_row(_MARKS[check.status], check.title, escape(check.detail))
        if check.fix and check.status in (WARN, FAIL):
            table.add_row("", "", f"[cyan]fix:[/] {escape(check.fix)}")
    console.print(table)
    failed = [c.title for c in report.checks if c.status == FAIL]
    if failed:
        console.print(f"[bold red]not ready[/]: {escape(', '.join(failed))}")
    else:
        warned = sum(c.status == WARN for c in report.checks)
        console.print("[bold green]ready[/]" + (f" ({warned} warning(s))" if warned else ""))


def main(args: argparse.Namespace) -> int:
    report = run_checks(run_models=not args.quick, load_timeout_s=args.timeout)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        _print(report, terminal())
    return 0 if report.ready else 1
