"""Max context per model: the largest prompt that fitted, and the first one that did not.

From ``max_context`` records (a finished search) where present; otherwise from the points
themselves: search trials of a search that was cut short, or the sweep's lengths. Each
result says which (``source``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from edgeprobe.analysis.figures import peak_bytes
from edgeprobe.analysis.limits import limit_detail, limit_kind
from edgeprobe.analysis.rows import FAILED_STATUSES
from edgeprobe.bundle.reader import Bundle

SOURCE_SEARCH = "search"
SOURCE_SEARCH_CUT_SHORT = "search, cut short"
SOURCE_SWEEP = "sweep"


@dataclass(frozen=True)
class MaxContext:
    bundle: str
    model: str
    implementation: str
    family: str
    variant: str
    max_ok_tokens: int | None  # None: nothing fitted
    first_fail_tokens: int | None  # None: nothing above max_ok_tokens failed (a lower bound)
    fail_status: str | None
    source: str
    memory_budget_bytes: int | None
    peak_bytes_at_max: int | None
    # What stopped it: memory, kernel, timeout, search limit, error (see analysis.limits).
    limit: str | None = None
    limit_detail: str | None = None

    @property
    def lower_bound(self) -> bool:
        """True when the true max context may be larger (nothing tried above it failed)."""
        return self.max_ok_tokens is not None and self.first_fail_tokens is None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lower_bound": self.lower_bound}


def _from_record(label: str, record: dict[str, Any], budget: int | None) -> MaxContext:
    trials = record.get("trials") or []
    max_ok = record.get("max_ok_tokens")
    peak = next((t.get("peak_bytes") for t in trials
                 if t.get("length_tokens") == max_ok and t.get("status") == "ok"), None)
    first_fail = None if record.get("limit_reached") else record.get("first_fail_tokens")
    return MaxContext(
        bundle=label, model=record.get("model") or "?",
        implementation=record.get("implementation") or "hf",
        family=record.get("family") or "?", variant=record.get("variant") or "published",
        max_ok_tokens=max_ok, first_fail_tokens=first_fail,
        fail_status=record.get("fail_status") if first_fail is not None else None,
        source=SOURCE_SEARCH,
        memory_budget_bytes=record.get("memory_budget_bytes", budget), peak_bytes_at_max=peak,
        limit=limit_kind(record), limit_detail=limit_detail(record))


def _from_points(label: str, key: tuple[str, str, str], points: list[dict[str, Any]],
                 budget: int | None) -> MaxContext | None:
    ok = [p for p in points if p.get("status") == "ok"]
    failed = [p for p in points if p.get("status") in FAILED_STATUSES]
    if not ok and not failed:
        return None
    best = max(ok, key=lambda p: p["length_tokens"], default=None)
    max_ok = best["length_tokens"] if best else None
    above = [p for p in failed if max_ok is None or p["length_tokens"] > max_ok]
    first = min(above, key=lambda p: p["length_tokens"], default=None)
    model, implementation, variant = key
    limit = None if first is None else limit_kind({"fail_status": first.get("status")})
    return MaxContext(
        bundle=label, model=model, implementation=implementation,
        family=points[0].get("family") or "?", variant=variant, max_ok_tokens=max_ok,
        first_fail_tokens=first["length_tokens"] if first else None,
        fail_status=first.get("status") if first else None,
        source=SOURCE_SEARCH_CUT_SHORT if any(p.get("search") for p in points) else SOURCE_SWEEP,
        memory_budget_bytes=budget, peak_bytes_at_max=peak_bytes(best) if best else None,
        limit=limit)


def max_contexts(label: str, bundle: Bundle) -> list[MaxContext]:
    """One result per model, implementation and prefill variant that the bundle measured."""
    budget = (bundle.header.get("settings") or {}).get("memory_budget_bytes")
    results: dict[tuple[str, str, str], MaxContext] = {}
    for record in bundle.max_context:
        result = _from_record(label, record, budget)
        results[(result.model, result.implementation, result.variant)] = result
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for point in bundle.points:
        if not point.get("model") or not isinstance(point.get("length_tokens"), int):
            continue
        key = (point["model"], point.get("implementation") or "hf",
               point.get("variant") or "published")
        if key not in results:
            grouped.setdefault(key, []).append(point)
    for key, points in grouped.items():
        result = _from_points(label, key, points, budget)
        if result is not None:
            results[key] = result
    return sorted(results.values(), key=lambda r: (r.model, r.implementation, r.variant))
