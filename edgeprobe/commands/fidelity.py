"""``edgeprobe fidelity``: edgeprobe's timings beside a plain loop's, in one process."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgeprobe.analysis.fidelity import FidelityReport, markdown, text_lines
from edgeprobe.errors import UsageError
from edgeprobe.runner.fidelity import FidelityRequest, check_fidelity
from edgeprobe.suite.suites import parse_attention_backend
from edgeprobe.units import parse_tokens


def request_from_args(args: argparse.Namespace) -> FidelityRequest:
    try:
        attention = parse_attention_backend(args.attention_backend)
    except ValueError as exc:
        raise UsageError(f"--{exc}") from None
    if args.device not in ("auto", "cpu", "cuda") and not args.device.startswith("cuda:"):
        raise UsageError(f"--device {args.device!r}: use auto, cpu, cuda or cuda:N")
    models = [m for value in args.models for m in value.replace(",", " ").split()]
    lengths = [parse_tokens(v) for value in args.lengths for v in value.replace(",", " ").split()]
    return FidelityRequest(models=models, lengths=lengths, implementation=args.impl,
                           device=args.device, dtype=args.dtype, rounds=args.rounds,
                           decode_rounds=args.decode_rounds, decode_tokens=args.decode_tokens,
                           warmup=args.warmup, attention_backend=attention,
                           threads=args.threads, command=["edgeprobe", *args.raw_argv])


def _write(path: str, text: str) -> None:
    try:
        Path(path).expanduser().write_text(text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def main(args: argparse.Namespace) -> int:
    request = request_from_args(args)

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"fidelity: {message}", file=sys.stderr, flush=True)

    def save(report: FidelityReport) -> None:
        if args.out:
            _write(args.out, report.to_json() + "\n")
        if args.markdown:
            _write(args.markdown, markdown(report))

    for path in (args.out, args.markdown):  # an unwritable path fails before any work
        if path:
            _write(path, "")
    report: FidelityReport = check_fidelity(request, progress, save)
    save(report)
    if args.json:
        print(report.to_json())
    else:
        print("\n".join(text_lines(report)))
    failed = [r for r in report.results if r["status"] != "ok"]
    return 1 if failed and len(failed) == len(report.results) else 0
