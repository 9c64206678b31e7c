"""Crossover: the prompt length beyond which an SSM or hybrid model's TTFT stays below a
Transformer's, measured on the same bundle (same device, same settings).

Each TTFT series is interpolated linearly on log-log axes between its measured lengths; the
crossover is where log(TTFT_ssm) - log(TTFT_transformer) last turns negative inside the
lengths both series cover.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from edgeprobe.analysis.rows import FAILED_STATUSES
from edgeprobe.units import format_tokens

CROSSOVER = "crossover"
OTHER_FASTER_EVERYWHERE = "faster_at_every_length"
NONE_IN_RANGE = "none_in_range"
NO_OVERLAP = "no_overlap"


def loglog_interpolate(series: Mapping[int, float], length: float) -> float:
    """TTFT at ``length`` from a series measured at other lengths (inside its range)."""
    lengths = sorted(series)
    if length <= lengths[0]:
        return series[lengths[0]]
    for low, high in pairwise(lengths):
        if low <= length <= high:
            frac = (math.log(length) - math.log(low)) / (math.log(high) - math.log(low))
            return math.exp(math.log(series[low])
                            + frac * (math.log(series[high]) - math.log(series[low])))
    return series[lengths[-1]]


def find_crossover(transformer: Mapping[int, float],
                   other: Mapping[int, float]) -> tuple[str, float | None]:
    """``(kind, tokens)``: kind is one of CROSSOVER (tokens set), OTHER_FASTER_EVERYWHERE,
    NONE_IN_RANGE or NO_OVERLAP. Series map prompt tokens -> TTFT (s), values > 0."""
    t_series = {n: s for n, s in transformer.items() if n > 0 and s > 0}
    o_series = {n: s for n, s in other.items() if n > 0 and s > 0}
    if not t_series or not o_series:
        return NO_OVERLAP, None
    low = max(min(t_series), min(o_series))
    high = min(max(t_series), max(o_series))
    if low > high:
        return NO_OVERLAP, None
    grid = sorted({n for n in (*t_series, *o_series) if low <= n <= high})
    gaps = [math.log(loglog_interpolate(o_series, n)) - math.log(loglog_interpolate(t_series, n))
            for n in grid]
    if all(gap < 0 for gap in gaps):
        return OTHER_FASTER_EVERYWHERE, None
    if gaps[-1] >= 0:
        return NONE_IN_RANGE, None
    last = max(i for i, gap in enumerate(gaps) if gap >= 0)
    frac = gaps[last] / (gaps[last] - gaps[last + 1])
    log_tokens = math.log(grid[last]) + frac * (math.log(grid[last + 1]) - math.log(grid[last]))
    return CROSSOVER, math.exp(log_tokens)


def max_speedup(faster: Mapping[int, float], slower: Mapping[int, float],
                lengths: Iterable[int] | None = None) -> tuple[float, int] | None:
    """Largest ``slower / faster`` TTFT ratio over lengths both measured (and in ``lengths``
    when given), with the length where it occurs; None when no such length or ratio <= 1."""
    shared = set(faster) & set(slower)
    if lengths is not None:
        shared &= set(lengths)
    ratios = [(slower[n] / faster[n], n) for n in sorted(shared) if faster[n] > 0]
    best = max(ratios, default=None)
    return best if best is not None and best[0] > 1 else None


@dataclass(frozen=True)
class Crossover:
    bundle: str
    transformer: str  # model/implementation
    other: str
    other_family: str
    variant: str
    kind: str
    crossover_tokens: float | None
    shared_range_tokens: tuple[int, int] | None
    transformer_speedup: tuple[float, int] | None  # (x, at tokens): transformer faster
    other_speedup: tuple[float, int] | None  # (x, at tokens): SSM/hybrid faster
    transformer_fails_from_tokens: int | None
    other_fails_from_tokens: int | None

    def describe(self) -> str:
        transformer = self.transformer.removesuffix("/hf")
        span = (f"{format_tokens(self.shared_range_tokens[0])}-"
                f"{format_tokens(self.shared_range_tokens[1])}"
                if self.shared_range_tokens else "")
        if self.kind == CROSSOVER:
            text = f"faster beyond ~{round(self.crossover_tokens or 0):,} tokens"
        elif self.kind == OTHER_FASTER_EVERYWHERE:
            text = f"faster at every length ({span})"
        elif self.kind == NONE_IN_RANGE:
            text = f"none in range ({span})"
        else:
            text = "no shared lengths"
        fails = self.transformer_fails_from_tokens
        if fails is not None and (self.other_fails_from_tokens is None
                                  or self.other_fails_from_tokens > fails):
            text += f"; {transformer} fails from {format_tokens(fails)}"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle, "transformer": self.transformer, "other": self.other,
            "other_family": self.other_family, "variant": self.variant, "kind": self.kind,
            "crossover_tokens": None if self.crossover_tokens is None
            else round(self.crossover_tokens),
            "shared_range_tokens": list(self.shared_range_tokens)
            if self.shared_range_tokens else None,
            "transformer_speedup_x": self.transformer_speedup[0]
            if self.transformer_speedup else None,
            "transformer_speedup_at_tokens": self.transformer_speedup[1]
            if self.transformer_speedup else None,
            "other_speedup_x": self.other_speedup[0] if self.other_speedup else None,
            "other_speedup_at_tokens": self.other_speedup[1] if self.other_speedup else None,
            "transformer_fails_from_tokens": self.transformer_fails_from_tokens,
            "other_fails_from_tokens": self.other_fails_from_tokens,
            "summary": self.describe(),
        }


@dataclass
class _Series:
    family: str
    ttft_s: dict[int, float]
    fails_from_tokens: int | None = None


def _series(rows: Iterable[dict[str, Any]], variant: str) -> dict[str, _Series]:
    series: dict[str, _Series] = {}
    for row in rows:
        if row.get("variant") != variant or row.get("search"):
            continue
        key = f"{row['model']}/{row.get('implementation') or 'hf'}"
        entry = series.setdefault(key, _Series(row.get("family") or "?", {}))
        length = row["length_tokens"]
        if row.get("status") == "ok" and isinstance(row.get("ttft_s"), (int, float)):
            entry.ttft_s[length] = float(row["ttft_s"])
        elif row.get("status") in FAILED_STATUSES and (
                entry.fails_from_tokens is None or length < entry.fails_from_tokens):
            entry.fails_from_tokens = length
    return series


def crossovers(bundle: str, rows: Iterable[dict[str, Any]], variant: str = "lean") \
        -> list[Crossover]:
    """Every Transformer x (SSM or hybrid) pair of one bundle's sweep rows (``point_row``)."""
    series = _series(rows, variant)
    results = []
    for t_key, t in sorted(series.items()):
        if t.family != "transformer" or not t.ttft_s:
            continue
        for o_key, other in sorted(series.items()):
            if other.family not in ("ssm", "hybrid") or not other.ttft_s:
                continue
            kind, tokens = find_crossover(t.ttft_s, other.ttft_s)
            low = max(min(t.ttft_s), min(other.ttft_s))
            high = min(max(t.ttft_s), max(other.ttft_s))
            results.append(Crossover(
                bundle=bundle, transformer=t_key, other=o_key, other_family=other.family,
                variant=variant, kind=kind, crossover_tokens=tokens,
                shared_range_tokens=(low, high) if low <= high else None,
                transformer_speedup=max_speedup(t.ttft_s, other.ttft_s),
                other_speedup=max_speedup(other.ttft_s, t.ttft_s),
                transformer_fails_from_tokens=t.fails_from_tokens,
                other_fails_from_tokens=other.fails_from_tokens))
    return results
