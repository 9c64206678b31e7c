"""``edgeprobe compare A.epb B.epb ...``: aligned figures, ratios, crossovers, max context,
warnings; as a terminal report, Markdown, CSV or JSON, with optional plots."""

from __future__ import annotations

import argparse
import sys

from edgeprobe.analysis.compare import Comparison, compare_files
from edgeprobe.analysis.formats import print_terminal, to_csv, to_json, to_markdown
from edgeprobe.analysis.frames import INSTALL_HINT
from edgeprobe.commands.console import terminal
from edgeprobe.commands.integrity import report
from edgeprobe.errors import EdgeprobeError


def _plot(comparison: Comparison, target: str, to_stdout: bool) -> None:
    from edgeprobe.analysis.plots import matplotlib_available

    stream = sys.stdout if to_stdout else sys.stderr
    if target != "term":
        if matplotlib_available():
            from edgeprobe.analysis.plots import save_plot

            try:
                path = save_plot(comparison, target)
            except (OSError, ValueError) as exc:
                raise EdgeprobeError(f"cannot write plot {target}: "
                                     f"{getattr(exc, 'strerror', None) or exc}") from None
            sys.stderr.write(f"plot written to {path}\n")
            return
        sys.stderr.write(f"edgeprobe: matplotlib is not installed, showing terminal plots "
                         f"instead of {target} ({INSTALL_HINT})\n")
    from edgeprobe.analysis.termplots import terminal_plots

    stream.write(terminal_plots(comparison, colour=stream.isatty()) + "\n")


def main(args: argparse.Namespace) -> int:
    comparison = compare_files(args.bundles, baseline=args.baseline, variant=args.variant)
    if args.format == "term":
        print_terminal(terminal(), comparison)
    elif args.format == "md":
        sys.stdout.write(to_markdown(comparison))
    elif args.format == "csv":
        for warning in comparison.warnings:
            sys.stderr.write(f"edgeprobe: warning: {warning}\n")
        sys.stdout.write(to_csv(comparison))
    else:
        sys.stdout.write(to_json(comparison) + "\n")
    if args.plot:
        sys.stdout.flush()
        _plot(comparison, args.plot, to_stdout=args.format == "term")
    sys.stdout.flush()
    codes = [report(info.path, damaged=info.damaged, damage=info.damage,
                    verified=info.verified) for info in comparison.bundles]
    return max(codes, default=0)
