"""Peak memory per probe, memory budgets, and telling an out-of-memory from a crash."""

from __future__ import annotations

import re
import resource
from pathlib import Path
from typing import Any

import torch

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


_OOM_PATTERNS = ("out of memory", "can't allocate memory", "cannot allocate memory")
_FATAL_PATTERNS = (
    "illegal memory access",
    "device-side assert",
    "unspecified launch failure",
    "misaligned address",
    "illegal instruction",
    "an illegal",
    "cuda error",
    "cublas_status_execution_failed",
    "cudnn_status_execution_failed",
)


def condense_oom(message: str) -> str:
    """PyTorch's CUDA OOM text runs to a paragraph: keep what was asked and what was allowed."""
    asked = re.search(r"Tried to allocate ([\d.]+ [KMGT]?i?B)", message)
    allowed = re.search(r"([\d.]+ [KMGT]?i?B) allowed", message)
    if not asked:
        return message[:300]
    text = f"CUDA out of memory: tried to allocate {asked.group(1)}"
    return text + (f" ({allowed.group(1)} allowed)" if allowed else "")


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc).lower()
    return any(p in text for p in _OOM_PATTERNS)


def is_fatal_device_error(exc: BaseException) -> bool:
    """Errors after which the CUDA context is unusable: the worker must be replaced."""
    accelerator_error = getattr(torch, "AcceleratorError", None)
    if accelerator_error is not None and isinstance(exc, accelerator_error):
        return True
    text = str(exc).lower()
    return any(p in text for p in _FATAL_PATTERNS) and not is_oom(exc)


def release(device: torch.device) -> None:
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
