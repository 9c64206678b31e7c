"""Max-context search: the largest prompt that fits, to a resolution (default 1K tokens).

Pure logic (no torch): ``try_length(n)`` runs one prefill of n tokens somewhere and says how
it went. The search first doubles until a failure, then narrows the bracket. When the trials
report peak memory and a budget is known, a straight-line fit of memory against length
predicts the limit, and two trials around the prediction usually close the bracket; the
search falls back to bisection where the prediction misses.

Every result says what stopped it (``limit_kind``): ``memory`` (out of memory), ``kernel``
(a device fault), ``timeout``, ``search limit`` (even the limit fitted) or ``error``. A device
fault is not a memory limit: above it the search goes on, counting a fault as "memory
sufficed", until memory runs out or the limit is reached, so both limits are known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

LIMIT_MEMORY = "memory"
LIMIT_KERNEL = "kernel"
LIMIT_TIMEOUT = "timeout"
LIMIT_SEARCH = "search limit"
LIMIT_ERROR = "error"
_LIMIT_BY_STATUS = {"oom": LIMIT_MEMORY, "kernel_error": LIMIT_KERNEL, "timeout": LIMIT_TIMEOUT}


def limit_kind(fail_status: str | None, limit_reached: bool) -> str:
    """What stopped a search: the first failure's status, or the search's own limit."""
    if limit_reached or fail_status is None:
        return LIMIT_SEARCH
    return _LIMIT_BY_STATUS.get(fail_status, LIMIT_ERROR)


@dataclass(frozen=True)
class Trial:
    length_tokens: int
    status: str  # ok | oom | kernel_error | error | timeout
    peak_bytes: int | None = None
    error: str | None = None

    @property
    def fits(self) -> bool:
        return self.status == "ok"


@dataclass
class SearchResult:
    max_ok_tokens: int | None
    first_fail_tokens: int | None
    fail_status: str | None
    fail_error: str | None
    resolution_tokens: int
    limit_tokens: int
    limit_reached: bool
    trials: list[Trial] = field(default_factory=list)
    limit_kind: str = LIMIT_SEARCH
    # Above a device fault: the largest prompt that did not run out of memory and the
    # smallest that did (None: none did up to the limit, or the search could not tell).
    memory_bound: MemoryBound | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["trials"] = [asdict(t) for t in self.trials]
        return data


@dataclass
class MemoryBound:
    no_oom_tokens: int
    first_oom_tokens: int | None
    limit_reached: bool
    stopped_by: str | None = None  # a trial that could tell neither (timeout, error)


def _round_down(value: float, resolution: int) -> int:
    return max(resolution, int(value) // resolution * resolution)


def predict_limit(trials: list[Trial], budget_bytes: int | None) -> float | None:
    """Length at which a least-squares line through (length, peak memory) meets the budget."""
    points = [(t.length_tokens, t.peak_bytes) for t in trials if t.fits and t.peak_bytes]
    if budget_bytes is None or len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
    if slope <= 0:
        return None
    return mean_x + (budget_bytes - mean_y) / slope


class _Search:
    def __init__(self, try_length: Callable[[int], Trial], resolution: int, limit: int) -> None:
        self.try_length = try_length
        self.resolution = resolution
        self.limit = limit
        self.trials: list[Trial] = []
        self.lo: int | None = None  # largest length known to fit
        self.hi: Trial | None = None  # smallest length known to fail

    def seed(self, known: list[Trial]) -> None:
        for trial in known:
            self._learn(trial)

    def _learn(self, trial: Trial) -> None:
        if trial.fits:
            if self.lo is None or trial.length_tokens > self.lo:
                self.lo = trial.length_tokens
        elif self.hi is None or trial.length_tokens < self.hi.length_tokens:
            self.hi = trial

    def run(self, length: int) -> Trial:
        trial = self.try_length(length)
        self.trials.append(trial)
        self._learn(trial)
        return trial

    def tried(self, length: int) -> bool:
        return any(t.length_tokens == length for t in self.trials)

    def grow(self, start: int) -> None:
        length = max(start, (self.lo or 0) * 2, self.resolution)
        while self.hi is None and length <= self.limit:
            self.run(_round_down(length, self.resolution))
            length *= 2
        if self.hi is None and (self.lo or 0) < self.limit:
            self.run(_round_down(self.limit, self.resolution))

    def shrink(self) -> None:
        """Even the first length failed: halve until something fits or nothing can."""
        while self.lo is None and self.hi is not None and self.hi.length_tokens > self.resolution:
            self.run(_round_down(self.hi.length_tokens // 2, self.resolution))

    def narrow(self, budget_bytes: int | None) -> None:
        predicted_used = False
        while self.lo is not None and self.hi is not None:
            gap = self.hi.length_tokens - self.lo
            if gap <= self.resolution:
                return
            candidate = None
            if not predicted_used:
                guess = predict_limit(self.trials, budget_bytes)
                if guess is not None:
                    predicted_used = True
                    candidate = _round_down(guess, self.resolution)
                    # Test just past the prediction next, so one trial on each side closes it.
                    if self.lo < candidate < self.hi.length_tokens and not self.tried(candidate):
                        first = self.run(candidate)
                        step = candidate + self.resolution if first.fits else (
                            candidate - self.resolution)
                        if self.lo < step < self.hi.length_tokens and not self.tried(step):
                            self.run(step)
                        continue
            middle = _round_down((self.lo + self.hi.length_tokens) // 2, self.resolution)
            if middle <= self.lo:
                middle = self.lo + self.resolution
            if middle >= self.hi.length_tokens or self.tried(middle):
                return
            self.run(middle)


def memory_bound(try_length: Callable[[int], Trial], fault_tokens: int, limit_tokens: int,
                 resolution_tokens: int, trials: list[Trial]) -> MemoryBound:
    """Above a device fault at ``fault_tokens``: double until memory runs out (or the limit),
    then bisect. A fault or a success means memory sufficed; other failures end the search."""
    lo, hi, stopped = fault_tokens, None, None

    def run(length: int) -> bool:
        nonlocal lo, hi, stopped
        trial = try_length(length)
        trials.append(trial)
        if trial.status == "oom":
            hi = length
        elif trial.status in ("kernel_error", "ok"):
            lo = length
        else:
            stopped = trial.status
        return stopped is None

    while hi is None and lo < limit_tokens:
        length = min(_round_down(lo * 2, resolution_tokens),
                     _round_down(limit_tokens, resolution_tokens))
        if length <= lo or not run(length):
            break
    while stopped is None and hi is not None and hi - lo > resolution_tokens:
        middle = _round_down((lo + hi) // 2, resolution_tokens)
        if middle <= lo or not run(middle):
            break
    reached = hi is None and stopped is None and lo >= _round_down(limit_tokens,
                                                                   resolution_tokens)
    return MemoryBound(lo, hi, reached, stopped)


def find_max_context(
    try_length: Callable[[int], Trial],
    start_tokens: int,
    limit_tokens: int,
    resolution_tokens: int = 1024,
    budget_bytes: int | None = None,
    known: list[Trial] | None = None,
) -> SearchResult:
    search = _Search(try_length, resolution_tokens, limit_tokens)
    search.seed(known or [])
    if search.hi is None:
        search.grow(start_tokens)
    if search.lo is None:
        search.shrink()
    search.narrow(budget_bytes)
    hi = search.hi
    bound = None
    if hi is not None and hi.status == "kernel_error":
        bound = memory_bound(try_length, hi.length_tokens, limit_tokens, resolution_tokens,
                             search.trials)
    return SearchResult(
        max_ok_tokens=search.lo,
        first_fail_tokens=hi.length_tokens if hi else None,
        fail_status=hi.status if hi else None,
        fail_error=hi.error if hi else None,
        resolution_tokens=resolution_tokens,
        limit_tokens=limit_tokens,
        limit_reached=hi is None,
        trials=search.trials,
        limit_kind=limit_kind(hi.status if hi else None, hi is None),
        memory_bound=bound,
    )
