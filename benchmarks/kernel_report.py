"""Category shares of a bundle's profiled points, beside the study's, and a name listing.

    python3 benchmarks/kernel_report.py BUNDLE [--names FILE]

Prints one line per profiled point (model, impl, length, path, SSM_Scan / GEMM / memory /
attention / logits shares, how busy the GPU kernels kept the device), then the kernels the
table could only call ``other`` (a gap in the category table), then the study's figures.
``--names FILE`` writes every kernel / op name with its launch chain (the fixture format of
``edgeprobe.profiling.names``). Needs no torch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeprobe.analysis.kernels import (
    category_shares,
    device_busy_share,
    kernel_records,
    short_kernel_name,
)
from edgeprobe.bundle import read_bundle
from edgeprobe.errors import EdgeprobeError
from edgeprobe.profiling.names import entries_from_records, write_names

COLUMNS = ("SSM_Scan", "GEMM", "memory", "attention", "logits")
STUDY = (
    "study, RTX 4090, mamba2-130m SSM_Scan: 74.4% at 256 tokens, ~56-59% at 8K and above",
    "study, Jetson Orin Nano, mamba2-130m SSM_Scan: 70.8% at 256 -> 52.8% at 32K",
    "study, Jetson Orin Nano, mamba-130m SSM_Scan: 55.5-62.9% (256 -> 32K)",
    "the study counts SDPA under GEMM: compare its GEMM with GEMM + attention here",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--names", type=Path, help="write the name listing here")
    args = parser.parse_args(argv)
    try:
        bundle = read_bundle(args.bundle)
    except EdgeprobeError as exc:
        print(f"kernel_report: {exc}", file=sys.stderr)
        return 2
    records = kernel_records(bundle)
    device = bundle.header.get("device", {}).get("name") or "cpu"
    software = bundle.header.get("software", {})
    print(f"{device}: torch {software.get('torch')}, transformers {software.get('transformers')},"
          f" mamba_ssm {software.get('mamba_ssm')}, causal_conv1d {software.get('causal_conv1d')}"
          + ("  [bundle truncated]" if bundle.truncated else ""))
    header = (f"{'model':<16}{'impl':<10}{'tokens':>7}  {'path':<10}"
              + "".join(f"{c:>10}" for c in COLUMNS) + f"{'busy':>7}{'ms/prefill':>12}")
    print(header)
    print("-" * len(header))
    for rec in records:
        lead = (f"{rec['model']:<16}{rec['implementation']:<10}{rec['length_tokens']:>7}  "
                f"{rec.get('kernel_path')!s:<10}")
        if rec.get("status") != "ok":
            print(f"{lead}{rec.get('status')}: {str(rec.get('error'))[:80]}")
            continue
        shares = category_shares(rec)
        busy = device_busy_share(rec)
        per_step = rec.get("device_time_per_step_s") or 0.0
        print(lead + "".join(f"{shares[c] * 100:>9.1f}%" for c in COLUMNS)
              + (f"{busy * 100:>6.0f}%" if busy is not None else f"{'-':>7}")
              + f"{per_step * 1e3:>12.2f}")
    others = sorted({(row["name"], (row.get("launched_by") or ["-"])[0])
                     for rec in records for row in rec.get("rows") or []
                     if row.get("category") == "other" and row.get("share", 0) >= 0.005})
    if others:
        print("\nnames the category table calls 'other' (>= 0.5% of a point):")
        for name, launcher in others:
            print(f"  {short_kernel_name(name, 90)}  <- {launcher}")
    print()
    for line in STUDY:
        print(line)
    if args.names:
        entries = entries_from_records(records)
        write_names(args.names, entries, [
            f"recorded on {device} by benchmarks/kernel_report.py from {Path(args.bundle).name}",
            f"torch {software.get('torch')}, mamba_ssm {software.get('mamba_ssm')}, "
            f"causal_conv1d {software.get('causal_conv1d')}, "
            f"transformers {software.get('transformers')}"])
        print(f"\n{len(entries)} names written to {args.names}")
    return 0 if records else 1


if __name__ == "__main__":
    raise SystemExit(main())
