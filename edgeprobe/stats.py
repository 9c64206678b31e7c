"""Medians and spreads of repeated timings, and when two of them cannot be told apart.

No torch: the measuring side and the analysis side both use it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Spread:
    """Median and spread of repeated timings, in seconds."""

    median_s: float
    q1_s: float
    q3_s: float
    min_s: float
    max_s: float
    samples: int

    @property
    def iqr_s(self) -> float:
        return self.q3_s - self.q1_s

    def as_dict(self, prefix: str) -> dict[str, Any]:
        """``{prefix}_s``, ``{prefix}_iqr_s``, ``{prefix}_q1_s`` ... for a record."""
        return {f"{prefix}_s": self.median_s, f"{prefix}_iqr_s": self.iqr_s,
                f"{prefix}_q1_s": self.q1_s, f"{prefix}_q3_s": self.q3_s,
                f"{prefix}_min_s": self.min_s, f"{prefix}_max_s": self.max_s}


def spread(samples: Sequence[float]) -> Spread:
    """Median, quartiles (inclusive method: within the samples' range), min and max."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    if len(ordered) == 1:
        q1 = q3 = ordered[0]
    else:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    return Spread(statistics.median(ordered), q1, q3, ordered[0], ordered[-1], len(ordered))


def relative_change(new: float, old: float) -> float:
    return abs(new - old) / old if old > 0 else math.inf


def within_noise(a: float | None, a_iqr: float | None, b: float | None,
                 b_iqr: float | None) -> bool | None:
    """True when two medians differ by no more than their combined spread (the intervals
    median +- IQR/2 overlap); None when either spread is unknown."""
    if a is None or b is None or a_iqr is None or b_iqr is None:
        return None
    return abs(a - b) <= (a_iqr + b_iqr) / 2
