"""Telling out-of-memory from a device fault by the words of an error or a dying worker's log.

No torch here: the worker classifies its exceptions with these words, and the runner
classifies the log of a worker that died without answering.
"""

from __future__ import annotations

OOM = "oom"
FAULT = "kernel_error"

_OOM_PATTERNS = (
    "out of memory",
    "can't allocate memory",
    "cannot allocate memory",
    "cublas_status_alloc_failed",  # cuBLAS could not get its workspace: memory, not a fault
    "cudnn_status_alloc_failed",
    "nvmapmemallocinternaltagged",  # Jetson: the unified-memory allocator refused
    "nvmapmemhandlealloc",
)
_FAULT_PATTERNS = (
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


def says_oom(text: str) -> bool:
    lowered = text.lower()
    return any(p in lowered for p in _OOM_PATTERNS)


def says_fault(text: str) -> bool:
    """A fatal device error (the CUDA context is gone), and not an out-of-memory."""
    lowered = text.lower()
    return any(p in lowered for p in _FAULT_PATTERNS) and not says_oom(lowered)


def classify_log(text: str) -> tuple[str | None, str | None]:
    """(``oom`` or ``kernel_error``, the line that says so) for the last line of ``text`` that
    names either, wherever it is (a C++ stack trace after it can run to hundreds of lines);
    (None, None) when none does."""
    for line in reversed(text.splitlines()):
        if says_oom(line):
            return OOM, line.strip()
        if says_fault(line):
            return FAULT, line.strip()
    return None, None
