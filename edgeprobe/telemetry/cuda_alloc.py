"""The torch CUDA caching allocator's figures, read only where torch is already loaded.

This source never imports torch: in the runner (which has no torch) it reports why it is
unavailable; in a process that holds a model on a GPU it reads allocated and reserved bytes.
"""

from __future__ import annotations

import sys
from typing import Any

from edgeprobe.telemetry.base import Metric, Source, gauge

ALLOCATED_COLUMN = "cuda_allocated_bytes"
RESERVED_COLUMN = "cuda_reserved_bytes"


class TorchAllocatorSource(Source):
    name = "torch"

    def __init__(self, device_index: int = 0) -> None:
        super().__init__()
        self.device_index = device_index
        self._cuda: Any = None

    def open(self) -> list[Metric]:
        torch = sys.modules.get("torch")
        if torch is None:
            self.unavailable("cuda_allocator", "torch is not loaded in this process (the probe "
                             "worker records allocator peaks per point)")
            return []
        cuda = getattr(torch, "cuda", None)
        if cuda is None or not cuda.is_available():
            self.unavailable("cuda_allocator", "torch has no CUDA device here")
            return []
        if not cuda.is_initialized():
            self.unavailable("cuda_allocator", "CUDA is not initialised in this process yet "
                             "(no model loaded)")
            return []
        self._cuda = cuda
        self.ok("cuda_allocator", f"torch.cuda.memory_allocated/reserved(cuda:{self.device_index})")
        return [gauge(ALLOCATED_COLUMN), gauge(RESERVED_COLUMN)]

    def read(self, values: dict[str, float]) -> None:
        if self._cuda is None or self.is_lost("cuda_allocator"):
            return
        try:
            values[ALLOCATED_COLUMN] = float(self._cuda.memory_allocated(self.device_index))
            values[RESERVED_COLUMN] = float(self._cuda.memory_reserved(self.device_index))
        except Exception as exc:  # a dead CUDA context must not stop the sampler
            self.lose("cuda_allocator", f"{type(exc).__name__}: {str(exc)[:120]}")
