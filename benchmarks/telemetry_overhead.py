"""Telemetry overhead: cost per sample by source (µs), CPU share of one core at 10 Hz, and the
bundle size of an hour of timeline.

    .venv/bin/python benchmarks/telemetry_overhead.py [--seconds 20] [--rate 10]

Measures this machine's real /proc and /sys, then the recorded Jetson and x86 trees under
tests/fixtures/sysfs (same code paths, files on this machine's disk). Writes
$OUT/telemetry_overhead.json (OUT defaults to ./out) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import msgpack

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgeprobe.telemetry import BackgroundSampler  # noqa: E402
from edgeprobe.telemetry.timeline import encode_chunk  # noqa: E402

TREES = {"this machine": None,
         "Orin Nano (hwmon)": REPO / "tests/fixtures/sysfs/orin-nano-jp6",
         "AGX Orin (iio)": REPO / "tests/fixtures/sysfs/agx-orin-iio",
         "x86 desktop": REPO / "tests/fixtures/sysfs/x86-desktop"}


def use_root(root: Path | None) -> None:
    if root is None:
        os.environ.pop("EDGEPROBE_SYSFS_ROOT", None)
    else:
        os.environ["EDGEPROBE_SYSFS_ROOT"] = str(root)


def cost_per_sample(root: Path | None, samples: int) -> dict[str, object]:
    use_root(root)
    sampler = BackgroundSampler()
    sampler.open()
    for _ in range(samples):
        sampler.sample_once()
    stats = sampler.stats()
    sampler.stop()
    costs = {k: v for k, v in stats["cost_us_per_sample"].items() if v is not None}
    return {"columns": len(sampler.columns), "cost_us_by_source": costs,
            "total_us": sum(costs.values())}


def cpu_share(root: Path | None, rate_hz: float, seconds: float) -> dict[str, object]:
    """Run the thread for ``seconds``; the main thread sleeps, so process CPU is the sampler's."""
    use_root(root)
    sampler = BackgroundSampler(rate_hz=rate_hz)
    sampler.open()
    cpu0, wall0 = time.process_time(), time.monotonic()
    with sampler:
        time.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    chunk = sampler.drain_timeline()
    stats = sampler.stats()
    packed = len(msgpack.packb(chunk, use_bin_type=True)) if chunk else 0
    return {"cpu_s": cpu, "wall_s": wall, "core_pct": 100 * cpu / wall,
            "achieved_rate_hz": stats["achieved_rate_hz"], "late_ticks": stats["late_ticks"],
            "rows": chunk["rows"] if chunk else 0, "chunk_bytes": packed}


def hour_of_timeline(rate_hz: float, chunk_s: float = 10.0) -> dict[str, object]:
    """An hour of a discrete GPU's columns with realistic noise, in chunks of ``chunk_s``."""
    rng = random.Random(0)
    rows_per_chunk = int(rate_hz * chunk_s)
    dtypes = {"gpu_power_w": "f4", "gpu_power_avg_w": "f4", "gpu_energy_j": "f8",
              "gpu_temp_c": "f4", "gpu_sm_clock_mhz": "f4", "gpu_mem_clock_mhz": "f4",
              "gpu_clock_event_mask": "u4", "gpu_mem_used_bytes": "f8",
              "gpu_mem_total_bytes": "f8", "gpu_util_pct": "f4", "gpu_mem_util_pct": "f4",
              "gpu_power_limit_w": "f4", "cpu_load_pct": "f4", "ram_used_bytes": "f8",
              "ram_total_bytes": "f8", "swap_used_bytes": "f8", "swap_total_bytes": "f8",
              "zones_max_temp_c": "f4"}
    total, energy, t = 0, 1e7, 1000.0
    for chunk in range(int(3600 / chunk_s)):
        times, columns = [], {name: [] for name in dtypes}
        for _ in range(rows_per_chunk):
            t += 1 / rate_hz + rng.gauss(0, 0.0005)
            power = 450 + rng.gauss(0, 40)
            energy += power / rate_hz
            times.append(t)
            row = {"gpu_power_w": power, "gpu_power_avg_w": 450 + rng.gauss(0, 5),
                   "gpu_energy_j": energy, "gpu_temp_c": float(rng.randint(55, 60)),
                   "gpu_sm_clock_mhz": float(rng.choice([1980, 1965, 1950])),
                   "gpu_mem_clock_mhz": 2619.0, "gpu_clock_event_mask": float(rng.choice([0, 4])),
                   "gpu_mem_used_bytes": 40e9 + rng.randint(0, 2**20) * 4096,
                   "gpu_mem_total_bytes": 150e9, "gpu_util_pct": float(rng.randint(90, 100)),
                   "gpu_mem_util_pct": float(rng.randint(30, 60)), "gpu_power_limit_w": 700.0,
                   "cpu_load_pct": rng.uniform(5, 15), "ram_used_bytes": 8e9 + rng.randint(0, 999)
                   * 4096, "ram_total_bytes": 128e9, "swap_used_bytes": 0.0,
                   "swap_total_bytes": 0.0, "zones_max_temp_c": float(rng.randint(40, 45))}
            for name in dtypes:
                columns[name].append(row[name])
        record = encode_chunk(chunk=chunk + 1, times=times, columns=columns, dtypes=dtypes,
                              start_unix_s=1.7e9, rate_hz=rate_hz)
        total += len(msgpack.packb({"type": "telemetry", **record}, use_bin_type=True))
    raw = int(3600 * rate_hz) * (8 + sum(int(d[1]) for d in dtypes.values()))
    return {"columns": len(dtypes), "bytes": total, "raw_bytes": raw}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="thread run per tree")
    parser.add_argument("--rate", type=float, default=10.0, help="sampling rate in Hz")
    parser.add_argument("--samples", type=int, default=500, help="samples for the cost figure")
    args = parser.parse_args()
    out = Path(os.environ.get("OUT", "out"))
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {"rate_hz": args.rate, "trees": {}}
    for name, root in TREES.items():
        entry: dict[str, object] = {}
        try:
            entry.update(cost_per_sample(root, args.samples))
            entry.update(cpu_share(root, args.rate, args.seconds))
        except Exception as exc:  # one tree failing must not hide the others
            entry["error"] = f"{type(exc).__name__}: {exc}"
        results["trees"][name] = entry  # type: ignore[index]
    use_root(None)
    results["hour_at_rate"] = hour_of_timeline(args.rate)
    (out / "telemetry_overhead.json").write_text(json.dumps(results, indent=2))

    print(f"\ntelemetry overhead at {args.rate:g} Hz ({args.samples} samples for cost, "
          f"{args.seconds:g} s thread run per tree)")
    print(f"{'tree':<20} {'cols':>4} {'µs/sample':>10} {'% of a core':>12} {'rate Hz':>8}  "
          "cost by source (µs)")
    for name, entry in results["trees"].items():  # type: ignore[union-attr]
        if "error" in entry:
            print(f"{name:<20} error: {entry['error']}")
            continue
        by_source = ", ".join(f"{k} {v:.0f}" for k, v in entry["cost_us_by_source"].items())
        rate = entry["achieved_rate_hz"]
        print(f"{name:<20} {entry['columns']:>4} {entry['total_us']:>10.0f} "
              f"{entry['core_pct']:>12.3f} {rate or 0:>8.2f}  {by_source}")
    hour = results["hour_at_rate"]
    print(f"\nan hour of timeline at {args.rate:g} Hz, {hour['columns']} noisy GPU+host columns: "
          f"{hour['bytes'] / 2**20:.2f} MiB in the bundle ({hour['raw_bytes'] / 2**20:.2f} MiB "
          "as raw arrays)")
    print(f"wrote {out / 'telemetry_overhead.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
