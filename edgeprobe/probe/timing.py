"""Timing of device work: CUDA events on a GPU, a synchronised monotonic clock on the CPU.

Every timed region starts and ends with the device idle. Besides the device-clock duration,
each measurement keeps the host's wall time of the same region, so a caller can tell work
the device did from time it spent waiting for the host to launch it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from edgeprobe.stats import Spread, spread

__all__ = ["Spread", "Timed", "spread", "synchronize", "timed", "timer_name"]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timer_name(device: torch.device) -> str:
    return "cuda_event" if device.type == "cuda" else "perf_counter"


@dataclass
class Timed:
    seconds: float  # device clock (CUDA events) or the host clock on the CPU
    host_s: float  # host wall time of the same region, synchronised at both ends
    result: Any


def timed(fn: Callable[[], Any], device: torch.device) -> Timed:
    """Run ``fn`` once; the device is idle before and after."""
    synchronize(device)
    if device.type == "cuda":
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        host_start = time.perf_counter()
        start.record()
        result = fn()
        end.record()
        end.synchronize()
        host_s = time.perf_counter() - host_start
        return Timed(start.elapsed_time(end) / 1e3, host_s, result)
    started = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - started
    return Timed(elapsed, elapsed, result)
