"""The per-kernel table of one profiled point: rows by kernel, times by category. No torch.

On a GPU a row is a device kernel (or memcpy/memset) and its time is device time; on the CPU
a row is an op and its time is the op's self time (time in the op minus time in the ops it
called). Either way the shares are of the summed row time, which ``time_basis`` names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from edgeprobe.profiling.categories import CATEGORIES, categorize

TIME_BASIS_CUDA = "cuda_kernel_time"
TIME_BASIS_CPU = "cpu_op_self_time"
# Device time the profiler recorded but could not link to a launching op.
UNLINKED_NAME = "(device time with no traced launch)"
LAUNCH_CHAIN_KEPT = 6


@dataclass(frozen=True)
class KernelSample:
    """One kernel execution (GPU) or one op call (CPU)."""

    name: str
    duration_s: float
    launched_by: tuple[str, ...] = ()  # enclosing ops, innermost first
    scope: str | None = None  # category of the innermost module scope


@dataclass
class KernelRow:
    name: str
    category: str
    calls: int = 0
    total_s: float = 0.0
    scope: str | None = None
    launched_by: list[str] = field(default_factory=list)

    @property
    def mean_s(self) -> float:
        return self.total_s / self.calls if self.calls else 0.0


@dataclass
class KernelTable:
    time_basis: str
    steps: int  # profiled (active) steps
    rows: list[KernelRow]
    active_wall_s: float  # summed wall time of the profiled steps

    @property
    def device_time_s(self) -> float:
        return sum(row.total_s for row in self.rows)

    def category_times_s(self) -> dict[str, float]:
        times = dict.fromkeys(CATEGORIES, 0.0)
        for row in self.rows:
            times[row.category] = times.get(row.category, 0.0) + row.total_s
        return times

    def as_record(self) -> dict[str, Any]:
        """The table as it is stored in a ``kernels`` bundle record."""
        total = self.device_time_s
        calls = dict.fromkeys(CATEGORIES, 0)
        for row in self.rows:
            calls[row.category] = calls.get(row.category, 0) + row.calls
        return {
            "time_basis": self.time_basis,
            "steps": self.steps,
            "device_time_s": total,
            "device_time_per_step_s": total / self.steps if self.steps else None,
            "active_wall_s": self.active_wall_s,
            "categories": {
                category: {"time_s": seconds, "share": seconds / total if total else 0.0,
                           "calls": calls[category]}
                for category, seconds in self.category_times_s().items()
            },
            "rows": [
                {"name": row.name, "category": row.category, "scope": row.scope,
                 "launched_by": row.launched_by, "calls": row.calls, "total_s": row.total_s,
                 "mean_s": row.mean_s, "share": row.total_s / total if total else 0.0}
                for row in self.rows
            ],
        }


def aggregate(samples: Iterable[KernelSample], time_basis: str, steps: int,
              active_wall_s: float) -> KernelTable:
    """Rows by (name, scope, category), longest total first."""
    rows: dict[tuple[str, str | None, str], KernelRow] = {}
    longest: dict[tuple[str, str | None, str], float] = {}
    for sample in samples:
        category = categorize(sample.name, sample.launched_by, sample.scope)
        key = (sample.name, sample.scope, category)
        row = rows.get(key)
        if row is None:
            row = rows[key] = KernelRow(sample.name, category, scope=sample.scope)
        row.calls += 1
        row.total_s += sample.duration_s
        # Keep the launch chain of the longest call as the row's example.
        if sample.duration_s >= longest.get(key, -1.0):
            longest[key] = sample.duration_s
            row.launched_by = list(sample.launched_by[:LAUNCH_CHAIN_KEPT])
    ordered = sorted(rows.values(), key=lambda r: (-r.total_s, r.name))
    return KernelTable(time_basis, steps, ordered, active_wall_s)
