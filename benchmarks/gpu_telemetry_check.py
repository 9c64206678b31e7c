"""GPU telemetry check on a CUDA machine: NVML power, energy counter, clocks and throttle
reasons read live under load, and per-window energy from the counter vs integrated power.

    python3 benchmarks/gpu_telemetry_check.py [--gpu 0] [--seconds 8] [--rate 10]

Phases (about 35 s of GPU time): idle, sustained fp16 matmul, a prefill-like load (causal
attention + MLP blocks over an 8K-token prompt), and a short 100 Hz run. For each window it
prints energy from the counter and from integrated instantaneous power (J) and their
difference in %, plus the rates the sampler achieved and NVML's cost per sample. Writes
$OUT/gpu_telemetry_check.json and $OUT/gpu_telemetry.epb (the timeline as bundle records).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import traceback
from itertools import pairwise
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from edgeprobe.telemetry import BackgroundSampler, decode_timeline  # noqa: E402
from edgeprobe.telemetry.cuda_alloc import TorchAllocatorSource  # noqa: E402
from edgeprobe.telemetry.energy import integrate  # noqa: E402
from edgeprobe.telemetry.nvml import NvmlSource  # noqa: E402

RESULTS: list[dict[str, Any]] = []


def live(sampler: BackgroundSampler, label: str) -> None:
    s = sampler.latest()
    print(f"  [{label}] power {s.get('gpu_power_w', math.nan):6.1f} W "
          f"(1 s avg {s.get('gpu_power_avg_w', math.nan):6.1f}), counter "
          f"{s.get('gpu_energy_j', math.nan):12.1f} J, SM {s.get('gpu_sm_clock_mhz', 0):5.0f} MHz, "
          f"mem {s.get('gpu_mem_clock_mhz', 0):5.0f} MHz, {s.get('gpu_temp_c', 0):3.0f} C, "
          f"util {s.get('gpu_util_pct', 0):3.0f} %, reasons {s.get('throttle_reasons')}",
          flush=True)


def run_for(seconds: float, step: Any, sampler: BackgroundSampler, label: str) -> tuple[float,
                                                                                        float, int]:
    """Repeat ``step`` for about ``seconds``; returns the synchronised (start, end, passes)."""
    torch.cuda.synchronize()
    start, passes, next_print = time.monotonic(), 0, time.monotonic() + 1
    while time.monotonic() - start < seconds:
        step()
        passes += 1
        if time.monotonic() >= next_print:
            torch.cuda.synchronize()
            live(sampler, label)
            next_print += 1
    torch.cuda.synchronize()
    return start, time.monotonic(), passes


def record(sampler: BackgroundSampler, name: str, start: float, end: float,
           passes: int = 0) -> None:
    window = sampler.energy_window(start, end)
    rows = sampler.rows(start, end)
    avg_points = [(t, v) for t, v in zip(rows.times, rows.columns.get("gpu_power_avg_w", []),
                                         strict=False) if not math.isnan(v)]
    avg = integrate(avg_points, start, end)
    counter = window.energy_by_source_j.get("nvml_counter")
    instant = window.energy_by_source_j.get("integrated_power")
    diff = 100 * (instant - counter) / counter if counter and instant is not None else None
    counts = rows.columns.get("gpu_energy_j", [])
    updates = sum(1 for a, b in pairwise(counts) if b != a)
    RESULTS.append({"window": name, "duration_s": window.duration_s, "samples": window.samples,
                    "passes": passes, "counter_j": counter, "integrated_j": instant,
                    "diff_pct": diff, "integrated_1s_avg_j": avg[0] if avg else None,
                    "mean_power_w": window.mean_power_w, "peak_power_w": window.peak_power_w,
                    "temp_c": [window.temp_start_c, window.temp_max_c, window.temp_end_c],
                    "sm_clock_min_mhz": window.sm_clock_min_mhz,
                    "throttle_reasons": window.throttle_reasons, "counter_changes": updates,
                    "note": window.note})


def sub_windows(sampler: BackgroundSampler, name: str, start: float, end: float,
                length_s: float = 1.0) -> None:
    t = start
    index = 1
    while t + length_s <= end:
        record(sampler, f"{name} {index} ({length_s:g} s)", t, t + length_s)
        t += length_s
        index += 1


class Block(torch.nn.Module):
    """Pre-norm causal attention + MLP, the shape of one decoder layer's prefill."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = torch.nn.LayerNorm(width), torch.nn.LayerNorm(width)
        self.qkv, self.out = torch.nn.Linear(width, 3 * width), torch.nn.Linear(width, width)
        self.up, self.down = torch.nn.Linear(width, 4 * width), torch.nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(batch, length, 3, self.heads, -1).unbind(2)
        attn = torch.nn.functional.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
        x = x + self.out(attn.transpose(1, 2).reshape(batch, length, width))
        return x + self.down(torch.nn.functional.gelu(self.up(self.norm2(x))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=8.0, help="per load phase")
    parser.add_argument("--rate", type=float, default=10.0)
    args = parser.parse_args()
    out = Path(os.environ.get("OUT", "out"))
    out.mkdir(parents=True, exist_ok=True)
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 1
    device = torch.device("cuda", args.gpu)
    torch.cuda.set_device(device)
    torch.zeros(1, device=device)  # initialise CUDA so the allocator source can report
    sampler = BackgroundSampler([NvmlSource(args.gpu), TorchAllocatorSource(args.gpu)],
                                rate_hz=args.rate)
    print("sensors:")
    for status in sampler.availability():
        print(f"  {status.source:6} {status.sensor:16} {status.line()}")
    facts, extra = sampler.facts(), {}
    chunks: list[dict[str, Any]] = []
    sampler.start()
    try:
        time.sleep(2.0)
        idle_start = time.monotonic()
        time.sleep(2.0)
        record(sampler, "idle", idle_start, time.monotonic())
        live(sampler, "idle")
    except Exception:
        traceback.print_exc()
    try:
        a = torch.randn(8192, 8192, device=device, dtype=torch.float16)
        b = torch.randn(8192, 8192, device=device, dtype=torch.float16)
        start, end, passes = run_for(args.seconds, lambda: torch.matmul(a, b), sampler, "matmul")
        record(sampler, "matmul fp16 8192^2", start, end, passes)
        sub_windows(sampler, "matmul", start, end)
    except Exception:
        traceback.print_exc()
    try:
        model = torch.nn.Sequential(*[Block(2048, 16) for _ in range(8)]).to(device,
                                                                            torch.float16)
        prompt = torch.randn(1, 8192, 2048, device=device, dtype=torch.float16)

        def prefill() -> None:
            with torch.inference_mode():
                model(prompt)

        start, end, passes = run_for(args.seconds, prefill, sampler, "prefill")
        record(sampler, "prefill 8 blocks x 8K tokens", start, end, passes)
        sub_windows(sampler, "prefill", start, end)
        extra["allocator_during_prefill"] = {k: v for k, v in sampler.latest().items()
                                             if k.startswith("cuda_")}
    except Exception:
        traceback.print_exc()
    stats_10hz = sampler.stats()
    sampler.stop()
    chunk = sampler.drain_timeline()
    if chunk:
        chunks.append(chunk)
    stats_100hz: dict[str, Any] = {}
    try:
        fast = BackgroundSampler([NvmlSource(args.gpu)], rate_hz=100).start()
        a = torch.randn(8192, 8192, device=device, dtype=torch.float16)
        start, end, passes = run_for(3.0, lambda: torch.matmul(a, a), fast, "100 Hz")
        record(fast, "matmul at 100 Hz", start, end, passes)
        sub_windows(fast, "100 Hz matmul", start, end, 0.5)
        stats_100hz = fast.stats()
        fast.stop()
    except Exception:
        traceback.print_exc()
    bundle_info: dict[str, Any] = {}
    try:
        from edgeprobe.bundle import BundleWriter, read_bundle
        from edgeprobe.bundle.schema import TELEMETRY

        path = out / "gpu_telemetry.epb"
        path.unlink(missing_ok=True)
        with BundleWriter(path, {"telemetry": sampler.describe()}) as writer:
            for item in chunks:
                writer.append(TELEMETRY, item)
        timeline = decode_timeline(read_bundle(path).records)
        bundle_info = {"path": str(path), "bytes": path.stat().st_size, "rows": len(timeline),
                       "columns": len(timeline.columns)}
    except Exception:
        traceback.print_exc()

    report = {"device": torch.cuda.get_device_name(device), "facts": facts,
              "torch": torch.__version__, "windows": RESULTS, "sampler_10hz": stats_10hz,
              "sampler_100hz": stats_100hz, "bundle": bundle_info, **extra}
    (out / "gpu_telemetry_check.json").write_text(json.dumps(report, indent=2, default=str))

    print(f"\n{report['device']}, driver {facts.get('driver_version')}, torch {torch.__version__}")
    print(f"{'window':<32} {'s':>5} {'n':>4} {'counter J':>10} {'integr. J':>10} {'diff %':>7} "
          f"{'1s-avg J':>9} {'mean W':>7} {'peak W':>7} {'temp C':>11} {'SM min':>6} reasons")
    for r in RESULTS:
        def num(value: Any, fmt: str) -> str:
            return format(value, fmt) if isinstance(value, (int, float)) else "-"
        temps = "/".join(num(t, ".0f") for t in r["temp_c"])
        print(f"{r['window']:<32} {r['duration_s']:5.2f} {r['samples']:4d} "
              f"{num(r['counter_j'], '10.1f'):>10} {num(r['integrated_j'], '10.1f'):>10} "
              f"{num(r['diff_pct'], '+7.2f'):>7} {num(r['integrated_1s_avg_j'], '9.1f'):>9} "
              f"{num(r['mean_power_w'], '7.1f'):>7} {num(r['peak_power_w'], '7.1f'):>7} "
              f"{temps:>11} {num(r['sm_clock_min_mhz'], '6.0f'):>6} "
              f"{','.join(r['throttle_reasons']) or '-'}")
    for label, stats in (("10 Hz", stats_10hz), ("100 Hz", stats_100hz)):
        if stats:
            costs = {k: round(v) for k, v in stats["cost_us_per_sample"].items() if v}
            print(f"sampler {label}: {stats['samples']} samples, achieved "
                  f"{stats['achieved_rate_hz'] or 0:.2f} Hz, late ticks {stats['late_ticks']}, "
                  f"cost per sample µs {costs}")
    if bundle_info:
        print(f"timeline: {bundle_info['rows']} rows x {bundle_info['columns']} columns -> "
              f"{bundle_info['bytes']} bytes in {bundle_info['path']}")
    whole = [r for r in RESULTS if "(" not in r["window"] and r["diff_pct"] is not None]
    worst = max((abs(r["diff_pct"]) for r in whole), default=None)
    print(f"largest |counter - integrated| over whole load windows: "
          f"{'-' if worst is None else f'{worst:.2f} %'} (target under 10 %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
