"""Max-context search: the largest prompt that fits, to a resolution (default 1K tokens).

Pure logic (no torch): ``try_length(n)`` runs one prefill of n tokens somewhere and says how
it went. The search first doubles until a failure, then narrows the bracket. When the trials
report peak memory and a budget is known, a straight-line fit of memory against length
predicts the limit, and two trials around the prediction usually close the bracket; the
search falls back to bisection where the prediction misses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


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

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["trials"] = [asdict(t) for t in self.trials]
        return data


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
    return SearchResult(
        max_ok_tokens=search.lo,
        first_fail_tokens=hi.length_tokens if hi else None,
        fail_status=hi.status if hi else None,
        fail_error=hi.error if hi else None,
        resolution_tokens=resolution_tokens,
        limit_tokens=limit_tokens,
        limit_reached=hi is None,
        trials=search.trials,
    )
