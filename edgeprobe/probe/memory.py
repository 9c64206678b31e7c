"""Peak memory per probe, memory budgets, and telling an out-of-memory from a crash."""

from __future__ import annotations

import gc
import re
import resource
from pathlib import Path
from typing import Any

import torch

from edgeprobe.probe import clock
from edgeprobe.probe.faults import says_fault, says_oom

_STATUS = Path("/proc/self/status")


def _status_bytes(field: str) -> int | None:
    try:
        match = re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None


class MemoryTracker:
    """Peak memory of one region: CUDA allocator figures on a GPU, peak RSS on the CPU."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.peak_rss_source = "VmHWM"

    def reset(self) -> dict[str, int]:
        """Start a region; returns the memory in use at its start."""
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            return {
                "allocated_bytes": torch.cuda.memory_allocated(self.device),
                "reserved_bytes": torch.cuda.memory_reserved(self.device),
            }
        try:  # Linux >= 4.0: writing 5 resets the peak resident set size (VmHWM)
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.peak_rss_source = "ru_maxrss (process lifetime)"
        return {"rss_bytes": _status_bytes("VmRSS") or 0}

    def peak(self) -> dict[str, int]:
        if self.device.type == "cuda":
            return {
                "peak_allocated_bytes": torch.cuda.max_memory_allocated(self.device),
                "peak_reserved_bytes": torch.cuda.max_memory_reserved(self.device),
            }
        if self.peak_rss_source == "VmHWM":
            hwm = _status_bytes("VmHWM")
            if hwm is not None:
                return {"peak_rss_bytes": hwm}
        return {"peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def apply_cuda_budget(device: torch.device, budget_bytes: int) -> dict[str, Any]:
    """Cap the CUDA caching allocator, so a big GPU stands in for a smaller one."""
    total = torch.cuda.get_device_properties(device).total_memory
    fraction = min(1.0, budget_bytes / total)
    torch.cuda.set_per_process_memory_fraction(fraction, device)
    return {"mechanism": "cuda_memory_fraction", "fraction": fraction,
            "device_total_bytes": total, "budget_bytes": budget_bytes}


def apply_cpu_budget(budget_bytes: int) -> dict[str, Any]:
    """Let the address space grow by at most ``budget_bytes`` from now on (``RLIMIT_AS``).

    Called just before a model is built, after the one-time imports, so the budget covers
    the model's weights and every point's activations, logits and cache. An allocation past
    it fails for real, as it would on a smaller machine.
    """
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))  # drop the previous model's cap
    base = _status_bytes("VmSize") or 0
    limit = base + budget_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    return {"mechanism": "rlimit_as", "address_space_base_bytes": base,
            "budget_bytes": budget_bytes}


def condense_oom(message: str) -> str:
    """PyTorch's CUDA OOM text runs to a paragraph: keep what was asked and what was allowed."""
    asked = re.search(r"Tried to allocate ([\d.]+ [KMGT]?i?B)", message)
    allowed = re.search(r"([\d.]+ [KMGT]?i?B) allowed", message)
    if not asked:
        return message[:300]
    text = f"CUDA out of memory: tried to allocate {asked.group(1)}"
    return text + (f" ({allowed.group(1)} allowed)" if allowed else "")


def is_oom(exc: BaseException) -> bool:
    """Out of memory, whoever says it: torch's allocator, the host, or a library that could
    not get its workspace (``CUBLAS_STATUS_ALLOC_FAILED``)."""
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    return says_oom(str(exc))


def is_fatal_device_error(exc: BaseException) -> bool:
    """Errors after which the CUDA context is unusable: the worker must be replaced."""
    if is_oom(exc):
        return False
    accelerator_error = getattr(torch, "AcceleratorError", None)
    if accelerator_error is not None and isinstance(exc, accelerator_error):
        return True
    return says_fault(str(exc))


def release(device: torch.device) -> None:
    """Free what the last pass left: collect its garbage, empty the CUDA allocator's cache."""
    with clock.phase(clock.RELEASE):
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()


def keep_long_lived() -> None:
    """Exempt what exists now (imported modules, the loaded model) from garbage collection.

    A full collection walks every object in the process: with torch and transformers loaded,
    several hundred thousand, about 0.2 s on a small CPU, paid at every ``release``. Frozen
    objects are skipped, while garbage made by the passes (new objects) is still collected,
    so memory is freed as before. Call it right after ``release`` (nothing left to collect);
    ``forget_long_lived`` undoes it before a model goes."""
    gc.freeze()


def forget_long_lived() -> None:
    """Let everything be collected again (the model is about to be dropped)."""
    gc.unfreeze()
