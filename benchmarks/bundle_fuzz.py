#!/usr/bin/env python3
"""Fuzz bundles: damaged and hostile files through the reader and the reading commands.

    python benchmarks/bundle_fuzz.py [--cases 10000] [--seed 0] [--cli 40]

Each case mutates a small complete bundle (every record type) in one of these ways: 1 to 3
byte flips, a truncation, inserted bytes, removed bytes, a length made huge, a decompression
bomb (valid checksums), or 1 to 4 values of a hostile type or content (valid checksums). Then:
the reader (damaged cases: every record returned must be the one written), and one of show,
show --json, show --kernels, compare (terminal and JSON), export (JSON to stdout and CSV
files) in this process as the CLI runs them. ``--cli N`` also runs N cases per command
through ``python -m edgeprobe`` in a fresh process. Prints the figures; the exit code is 1
when any case gave a traceback, a silent value change, or output with a control character.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import bundle_fuzzing as fz  # noqa: E402

KINDS = ("flip", "flips", "truncate", "insert", "remove", "oversize", "bomb", "hostile")


def mutate(kind: str, data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(1 << 16)
    if kind == "flip":
        return fz.flip(data, at, rng.randrange(255))
    if kind == "flips":
        for _ in range(rng.randint(2, 3)):
            data = fz.flip(data, rng.randrange(1 << 16), rng.randrange(255))
        return data
    if kind == "truncate":
        return fz.truncate(data, at)
    if kind == "insert":
        return fz.insert(data, at, rng.randbytes(rng.randint(1, 16)))
    if kind == "remove":
        return fz.remove(data, at, rng.randint(1, 64))
    if kind == "oversize":
        return fz.oversize_length(data, at)
    if kind == "bomb":
        return fz.bomb(data, rng.choice((16 << 20, 64 << 20, 512 << 20)))
    for _ in range(rng.randint(1, 4)):
        data = fz.hostile_value(data, rng.randrange(1 << 16), rng.randrange(1 << 16),
                                rng.randrange(1 << 16))
    return data


def run_cli_sample(folder: Path, cases: list[Path], per_command: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    for command in fz.COMMANDS:
        for path in cases[:per_command]:
            result = subprocess.run([sys.executable, "-m", "edgeprobe", command[0], str(path),
                                     *command[1:]], capture_output=True, text=True,
                                    cwd=folder, timeout=120)
            counts["cli cases"] += 1
            counts["cli tracebacks"] += "Traceback" in result.stderr
            counts[f"cli exit {result.returncode}"] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cli", type=int, default=40, metavar="N",
                        help="cases per command also run through the CLI (default 40)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="bundle-fuzz-"))
    base = fz.write_base(folder / "base.epb").read_bytes()
    original = fz.decoded(base)
    counts: Counter[str] = Counter()
    failures: list[str] = []
    kept: list[Path] = []
    started = time.perf_counter()
    for case in range(args.cases):
        kind = KINDS[case % len(KINDS)]
        path = folder / f"case-{case % 64}.epb"
        path.write_bytes(mutate(kind, base, rng) or base)
        command = fz.COMMANDS[rng.randrange(len(fz.COMMANDS))]
        try:
            if kind not in ("bomb", "hostile"):
                outcome = fz.check_reader(path, original)
                counts["silent value changes"] += outcome.silent_change
                for name in ("refused", "damaged", "truncated", "clean"):
                    counts[f"reader: {name}"] += getattr(outcome, name)
            code = fz.check_command(command, path, folder)
            counts[f"exit {code}"] += 1
        except AssertionError as exc:
            counts["output rule broken"] += 1
            failures.append(f"case {case} {kind} {' '.join(command)}: {str(exc)[:200]}")
        except Exception:  # a traceback a user would have seen
            counts["tracebacks"] += 1
            failures.append(f"case {case} {kind} {' '.join(command)}:\n"
                            + traceback.format_exc(limit=-4))
        counts[f"cases {kind}"] += 1
        if len(kept) < args.cli and case % len(KINDS) == len(kept) % len(KINDS):
            keep = folder / f"cli-{len(kept)}.epb"
            keep.write_bytes(path.read_bytes())
            kept.append(keep)
    elapsed = time.perf_counter() - started
    counts.update(run_cli_sample(folder, kept, args.cli) if args.cli else {})
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.cases} cases in {elapsed:.1f} s ({elapsed / args.cases * 1e3:.1f} ms each), "
          f"seed {args.seed}, base bundle {len(base)} bytes, peak RSS {peak_mib:.0f} MiB")
    for name in ("tracebacks", "silent value changes", "output rule broken"):
        counts.setdefault(name, 0)
    for name, value in sorted(counts.items()):
        print(f"  {name:<28} {value}")
    for failure in failures[:10]:
        print(failure)
    bad = counts["tracebacks"] + counts["silent value changes"] + counts["output rule broken"]
    return 1 if bad or counts.get("cli tracebacks") else 0


if __name__ == "__main__":
    raise SystemExit(main())
