"""A fixed-size columnar ring buffer of samples: monotonic time plus one float per column."""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Rows:
    """A copy of consecutive samples, oldest first; NaN marks a value that was not read."""

    times: list[float]
    columns: dict[str, list[float]]
    first_seq: int  # sequence number of the first row (rows ever appended, from 0)
    dropped: int = 0  # rows asked for that were already overwritten


class _TimeView(Sequence[float]):
    """The ring's timestamps in logical order, indexable for bisect without copying."""

    def __init__(self, ring: Ring) -> None:
        self.ring = ring

    def __len__(self) -> int:
        return self.ring.count

    def __getitem__(self, index):  # type: ignore[no-untyped-def, override]
        return self.ring._times[self.ring._physical(index)]


class Ring:
    def __init__(self, columns: Sequence[str], capacity: int) -> None:
        if capacity < 2:
            raise ValueError("ring capacity must be at least 2")
        self.columns = list(columns)
        self.capacity = capacity
        self._times = array("d", [math.nan]) * capacity
        self._data = [array("d", [math.nan]) * capacity for _ in self.columns]
        self._index = {name: i for i, name in enumerate(self.columns)}
        self.head = 0  # next physical slot to write
        self.count = 0
        self.total = 0  # rows ever appended

    def _physical(self, logical: int) -> int:
        if logical < 0:
            logical += self.count
        if not 0 <= logical < self.count:
            raise IndexError(logical)
        return (self.head - self.count + logical) % self.capacity

    def append(self, t: float, values: dict[str, float]) -> None:
        slot = self.head
        self._times[slot] = t
        for name, i in self._index.items():
            self._data[i][slot] = values.get(name, math.nan)
        self.head = (slot + 1) % self.capacity
        self.count = min(self.count + 1, self.capacity)
        self.total += 1

    def _copy(self, lo: int, hi: int) -> Rows:
        """Logical rows [lo, hi)."""
        slots = [self._physical(i) for i in range(lo, hi)]
        return Rows(times=[self._times[s] for s in slots],
                    columns={name: [self._data[i][s] for s in slots]
                             for name, i in self._index.items()},
                    first_seq=self.total - self.count + lo)

    def since(self, seq: int) -> Rows:
        """Rows appended with sequence number >= ``seq`` (and how many of them were lost)."""
        oldest = self.total - self.count
        dropped = max(0, oldest - seq)
        rows = self._copy(max(seq, oldest) - oldest, self.count)
        rows.dropped = dropped
        return rows

    def around(self, start: float, end: float) -> Rows:
        """Rows with ``start <= t <= end``, plus the one before and the one after."""
        view = _TimeView(self)
        lo = max(bisect_left(view, start) - 1, 0)
        hi = min(bisect_right(view, end) + 1, self.count)
        return self._copy(lo, hi)

    def last(self) -> tuple[float, dict[str, float]] | None:
        if not self.count:
            return None
        slot = self._physical(-1)
        return self._times[slot], {name: self._data[i][slot] for name, i in self._index.items()}

    @property
    def first_time(self) -> float | None:
        return self._times[self._physical(0)] if self.count else None
