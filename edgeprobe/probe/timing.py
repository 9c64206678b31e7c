"""Timing of device work: CUDA events on a GPU, a synchronised monotonic clock on the CPU."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timer_name(device: torch.device) -> str:
    return "cuda_event" if device.type == "cuda" else "perf_counter"


def timed(fn: Callable[[], Any], device: torch.device) -> tuple[float, Any]:
    """Run ``fn`` once; return (seconds, its result). The device is idle before and after."""
    synchronize(device)
    if device.type == "cuda":
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        result = fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3, result
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def spread(samples: list[float]) -> dict[str, float]:
    """Median and spread of repeated timings (seconds)."""
    ordered = sorted(samples)
    result = {
        "median_s": statistics.median(ordered),
        "min_s": ordered[0],
        "max_s": ordered[-1],
    }
    if len(ordered) >= 2:
        result["stdev_s"] = statistics.stdev(ordered)
    return result
