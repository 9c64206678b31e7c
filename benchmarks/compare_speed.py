#!/usr/bin/env python3
"""Time to load and compare many bundles (default 100 copies of a device bundle, each with
its own figures and power mode), in-process by stage and end to end through the CLI.

    python benchmarks/compare_speed.py [--bundles 100] [--source docs/results/h200-paper-slice.epb]

Prints a table and writes it as JSON to $OUT/compare_speed.json (default ./out).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402

from edgeprobe.analysis.compare import compare  # noqa: E402
from edgeprobe.analysis.formats import print_terminal, to_csv, to_json, to_markdown  # noqa: E402
from edgeprobe.bundle import BundleWriter, read_bundle, schema  # noqa: E402


def make_bundles(source: Path, count: int, folder: Path) -> list[Path]:
    """``count`` bundles shaped like ``source``: figures scaled by a per-bundle factor."""
    original = read_bundle(source)
    header = {k: v for k, v in original.header.items()
              if k not in ("type", "format", "schema_version", "edgeprobe_version",
                           "created_unix_s")}
    rng = random.Random(0)
    paths = []
    for index in range(count):
        factor = rng.uniform(0.8, 1.25)
        path = folder / f"run-{index:03d}.epb"
        power = {**header.get("power", {}), "mode": f"power-limit {300 + 10 * (index % 5)} W"}
        with BundleWriter(path, {**header, "run_id": f"{index:032x}", "power": power}) as writer:
            for record in original.records:
                record = dict(record)
                kind = record.pop("type")
                if kind == schema.POINT and record.get("prefill"):
                    record["prefill"] = {**record["prefill"],
                                         "ttft_s": record["prefill"]["ttft_s"] * factor}
                writer.append(kind, record)
        paths.append(path)
    return paths


def timed(action):
    start = time.perf_counter()
    value = action()
    return time.perf_counter() - start, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=int, default=100)
    parser.add_argument("--source", type=Path,
                        default=REPO / "docs" / "results" / "h200-paper-slice.epb")
    args = parser.parse_args()
    out_dir = Path(os.environ.get("OUT", "out"))
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[tuple[str, float | None, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_bundles(args.source, args.bundles, Path(tmp))
        size = sum(p.stat().st_size for p in paths)
        read_s, bundles = timed(lambda: [read_bundle(p) for p in paths])
        results.append(("read bundles", read_s, f"{len(paths)} files, {size / 1e6:.1f} MB"))
        compare_s, comparison = timed(lambda: compare(bundles))
        results.append(("compare (rows, ratios, crossovers, max context)", compare_s,
                        f"{len(comparison.rows)} rows, {len(comparison.crossovers)} crossovers"))
        for name, render in (("markdown", to_markdown), ("json", to_json), ("csv", to_csv)):
            seconds, text = timed(lambda render=render: render(comparison))
            results.append((f"render {name}", seconds, f"{len(text) / 1e6:.2f} MB"))
        console = Console(file=io.StringIO(), width=160)
        seconds, _ = timed(lambda: print_terminal(console, comparison))
        results.append(("render terminal tables", seconds, ""))
        try:
            seconds, done = timed(lambda: subprocess.run(
                [sys.executable, "-m", "edgeprobe", "compare", *map(str, paths), "--format",
                 "json"], capture_output=True, cwd=REPO, check=False))
            ok = done.returncode == 0
            results.append(("CLI end to end (edgeprobe compare --format json)",
                            seconds if ok else None,
                            "includes interpreter start" if ok
                            else done.stderr.decode()[-200:]))
        except OSError as exc:
            results.append(("CLI end to end", None, str(exc)))
    width = max(len(name) for name, _, _ in results)
    print(f"{'stage':<{width}}  {'seconds':>8}  note")
    for name, seconds, note in results:
        shown = f"{seconds:8.3f}" if seconds is not None else "  failed"
        print(f"{name:<{width}}  {shown}  {note}")
    in_process = read_s + compare_s
    print(f"\nload + compare {args.bundles} bundles in-process: {in_process:.3f} s "
          f"({1e3 * in_process / args.bundles:.1f} ms per bundle)")
    (out_dir / "compare_speed.json").write_text(json.dumps(
        [{"stage": n, "seconds": s, "note": t} for n, s, t in results], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
