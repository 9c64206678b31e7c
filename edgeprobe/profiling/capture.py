"""The profiling pass: prefills under torch.profiler, then the per-kernel table.

Runs in the probe worker, after the model's timed passes, so profiler overhead never enters a
latency figure. One step is one prefill of the point's prompt and variant, synchronised, so a
step's wall time covers its device work. On a GPU the rows are device kernels, each tied to
the op that launched it through the profiler's CPU-op to kernel correlation; on the CPU the
rows are ops and their self time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile, schedule

from edgeprobe.models.build import LoadedModel
from edgeprobe.profiling.categories import SCOPE_PREFIX, scope_of
from edgeprobe.profiling.scopes import module_scopes
from edgeprobe.profiling.spec import ProfileSchedule
from edgeprobe.profiling.table import (
    TIME_BASIS_CPU,
    TIME_BASIS_CUDA,
    UNLINKED_NAME,
    KernelSample,
    KernelTable,
    aggregate,
)

STEP_RANGE_PREFIX = "ProfilerStep"
# Device time the links leave unexplained below this is rounding, not a missing launch.
UNLINKED_TOLERANCE_S = 1e-6


def _is_range(name: str) -> bool:
    """Profiler step ranges and edgeprobe's module scopes (not ops, not kernels)."""
    return name.startswith((STEP_RANGE_PREFIX, SCOPE_PREFIX))


def _is_annotation(event: Any) -> bool:
    return bool(getattr(event, "is_user_annotation", False)) or _is_range(event.name)


def _duration_us(event: Any) -> float:
    return float(event.time_range.end - event.time_range.start)


def launch_context(event: Any) -> tuple[tuple[str, ...], str | None]:
    """(ops from ``event`` outwards, innermost module scope) of a CPU event."""
    ops: list[str] = []
    scope: str | None = None
    current = event
    while current is not None:
        if _is_annotation(current):
            scope = scope or scope_of(current.name)
        else:
            ops.append(current.name)
        current = current.cpu_parent
    return tuple(ops), scope


def _cpu_events(events: Any) -> list[Any]:
    return [e for e in events if e.device_type == DeviceType.CPU and not e.is_async]


def cpu_op_samples(events: Any) -> list[KernelSample]:
    """Every op call with its self time (the CPU's "device time")."""
    samples = []
    for event in _cpu_events(events):
        if _is_annotation(event):
            continue
        ops, scope = launch_context(event.cpu_parent) if event.cpu_parent else ((), None)
        samples.append(KernelSample(event.name, event.self_cpu_time_total / 1e6, ops, scope))
    return samples


def device_kernel_samples(events: Any) -> list[KernelSample]:
    """Every kernel, memcpy and memset on the GPU, tied to the op (or range) that launched it.

    Device time the correlation leaves unexplained becomes one ``other`` row, so the shares
    stay shares of all device time.
    """
    samples = []
    for event in _cpu_events(events):
        kernels = getattr(event, "kernels", None) or []
        if not kernels:
            continue
        ops, scope = launch_context(event)
        for kernel in kernels:
            if _is_range(kernel.name):  # GPU-side mirrors of CPU ranges
                continue
            samples.append(KernelSample(kernel.name, kernel.duration / 1e6, ops, scope))
    device_s = sum(_duration_us(e) for e in events
                   if e.device_type == DeviceType.CUDA and not _is_annotation(e)) / 1e6
    linked_s = sum(s.duration_s for s in samples)
    if device_s - linked_s > UNLINKED_TOLERANCE_S:
        samples.append(KernelSample(UNLINKED_NAME, device_s - linked_s))
    return samples


def table_from_events(events: Any, device_type: str) -> KernelTable:
    steps = [e for e in _cpu_events(events) if e.name.startswith(STEP_RANGE_PREFIX)]
    wall_s = sum(_duration_us(e) for e in steps) / 1e6
    if device_type == "cuda":
        return aggregate(device_kernel_samples(events), TIME_BASIS_CUDA, len(steps), wall_s)
    return aggregate(cpu_op_samples(events), TIME_BASIS_CPU, len(steps), wall_s)


@dataclass
class Captured:
    table: KernelTable
    trace_file: str | None = None  # the Chrome trace written, if one was asked for
    trace_error: str | None = None  # why the asked-for trace could not be written


def capture(step: Callable[[], None], module: torch.nn.Module, device: torch.device,
            plan: ProfileSchedule, trace_path: str | None = None) -> Captured:
    """Run ``step`` ``plan.total_steps`` times under the profiler; table of the active ones."""
    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    recorded: dict[str, Any] = {}

    def ready(prof: profile) -> None:
        recorded["events"] = prof.events()
        if trace_path:
            try:  # a trace that cannot be written must not cost the table
                Path(trace_path).parent.mkdir(parents=True, exist_ok=True)
                prof.export_chrome_trace(trace_path)
                recorded["trace_file"] = trace_path
            except (OSError, RuntimeError) as exc:
                recorded["trace_error"] = f"{type(exc).__name__}: {exc}"[:300]

    timeline = schedule(skip_first=plan.skip_first, wait=plan.wait, warmup=plan.warmup,
                        active=plan.active, repeat=1)
    with module_scopes(module), profile(activities=activities, schedule=timeline,
                                        on_trace_ready=ready) as prof:
        for _ in range(plan.total_steps):
            step()
            prof.step()
    if "events" not in recorded:
        raise RuntimeError("the profiler recorded no active steps")
    return Captured(table_from_events(recorded["events"], device.type),
                    recorded.get("trace_file"), recorded.get("trace_error"))


def profile_prefill(model: LoadedModel, ids: torch.Tensor, logits_to_keep: int,
                    plan: ProfileSchedule, trace_path: str | None = None) -> Captured:
    """The point's prefill (``logits_to_keep`` as in the timed passes) under the profiler."""
    device = model.device

    def step() -> None:
        with torch.inference_mode():
            logits, cache = model.adapter.prefill(ids, logits_to_keep)
        del logits, cache
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return capture(step, model.adapter.module, device, plan, trace_path)
