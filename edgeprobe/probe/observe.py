"""One untimed pass under torch.profiler: which attention kernel ran, how busy the device was.

Taken after warm-up and outside every timed pass, so the profiler's overhead never enters a
latency figure. Kernel durations under the profiler are the kernels' own; set against the
unprofiled median wall time they give the share of a pass the device was busy. A pass whose
device is busy for less than half of it is launch-bound: its time is the host issuing work,
and it moves with the host's load and clock rather than with the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.autograd import DeviceType

from edgeprobe.models.build import profiled_events
from edgeprobe.models.kernel_path import attention_backends

# Below this share of busy device time a pass counts as launch-bound.
LAUNCH_BOUND_BUSY_SHARE = 0.5


@dataclass
class Observation:
    attention: list[str]  # SDPA backends seen (short names); empty where none ran
    kernel_s: float | None  # device time covered by kernels (union of intervals); None on CPU


def _union_seconds(intervals: list[tuple[float, float]]) -> float:
    total = 0.0
    end_so_far = float("-inf")
    for start, end in sorted(intervals):
        if end <= end_so_far:
            continue
        total += end - max(start, end_so_far)
        end_so_far = end
    return total / 1e6  # the profiler's clock is in microseconds


def worth_observing(device: torch.device, has_attention: bool) -> bool:
    """Whether a profiled pass can tell anything: the busy share needs a GPU, the attention
    kernel a model with attention. On the CPU an SSM's profiled pass tells nothing, and the
    profiler's overhead on its many small ops makes it the longest pass of the point."""
    return device.type == "cuda" or has_attention


def observe(run: Callable[[], Any], device: torch.device) -> Observation:
    """Run ``run()`` once under the profiler (CPU ops, and CUDA kernels on a GPU)."""
    events = profiled_events(run, device)
    names = {event.name for event in events}
    kernel_s = None
    if device.type == "cuda":
        kernel_s = _union_seconds([(e.time_range.start, e.time_range.end) for e in events
                                   if e.device_type == DeviceType.CUDA])
    return Observation(attention_backends(names), kernel_s)


def busy_figures(observation: Observation | None, wall_s: float) -> dict[str, Any]:
    """``busy_share`` (kernel time over the median wall time) and ``launch_bound``, or
    nulls where they cannot be known (the CPU, no observation)."""
    if observation is None or observation.kernel_s is None or wall_s <= 0:
        return {"busy_share": None, "launch_bound": None}
    share = min(1.0, observation.kernel_s / wall_s)
    return {"busy_share": share, "launch_bound": share < LAUNCH_BOUND_BUSY_SHARE}


def attention_label(observation: Observation | None, has_attention: bool) -> str | None:
    """The SDPA backend(s) seen (``cudnn``, ``flash+efficient``, ...), ``none`` where a model
    with attention ran no SDPA op (eager attention), None where it was not observed or the
    model has no attention."""
    if observation is None or not has_attention:
        return None
    return "+".join(observation.attention) if observation.attention else "none"
