"""What one profiling pass does: schedule, prompt, variant, trace file. No torch."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgeprobe.bundle.schema import VARIANT_PUBLISHED


@dataclass(frozen=True)
class ProfileSchedule:
    """torch.profiler's schedule, one step = one prefill. Defaults are the study's."""

    skip_first: int = 1
    wait: int = 2
    warmup: int = 2
    active: int = 10

    @property
    def total_steps(self) -> int:
        return self.skip_first + self.wait + self.warmup + self.active

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def __post_init__(self) -> None:
        if min(self.skip_first, self.wait, self.warmup) < 0 or self.active < 1:
            raise ValueError("profile schedule: steps must be >= 0 and active >= 1")


STUDY_SCHEDULE = ProfileSchedule()


@dataclass(frozen=True)
class ProfileSpec:
    length_tokens: int
    variant: str
    seed: int = 0
    schedule: ProfileSchedule = field(default_factory=ProfileSchedule)
    trace_path: str | None = None  # Chrome trace (.json or .json.gz) to write, if any

    def as_message(self) -> dict[str, Any]:
        return {**asdict(self), "schedule": self.schedule.as_dict()}

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> ProfileSpec:
        return cls(**{**data, "schedule": ProfileSchedule(**data["schedule"])})


def pick_variant(ok_variants: list[str]) -> str | None:
    """The prefill variant to profile at one length: the study's (all-position logits) where
    its timed point ran, else the first that ran."""
    if VARIANT_PUBLISHED in ok_variants:
        return VARIANT_PUBLISHED
    return ok_variants[0] if ok_variants else None


def trace_file(trace_dir: Path, run_name: str, model: str, implementation: str, length: int,
               variant: str) -> Path:
    """``<dir>/<run>_<model>_<impl>_<N>tok_<variant>.json.gz`` (Perfetto opens it as is)."""
    stem = "_".join((run_name, model, implementation, f"{length}tok", variant))
    return trace_dir / (re.sub(r"[^A-Za-z0-9._-]", "-", stem) + ".json.gz")


def why_not_comparable(device_kind: str, kernel_path: str) -> str | None:
    """Why category shares of this run cannot be set beside the study's, or None if they can.

    The study measured device time on GPUs with the fused kernels; a reference path spends
    its time in ops the fused kernels replace, and a CPU has no device kernels at all.
    """
    if device_kind != "cuda":
        return "CPU run: shares are of op self time, not of GPU kernel time"
    if kernel_path != "fused":
        return (f"{kernel_path} kernel path: the reference ops replace the fused kernels the "
                "study measured")
    return None
