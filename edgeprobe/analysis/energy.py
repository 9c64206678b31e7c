"""Energy of a point's phases (prefill window, decode), per pass and per token.

A point may carry ``energy: {"prefill": {...}, "decode": {...}}`` (one energy window per
phase, over the whole timed window) and ``phases: {"prefill": {"passes", "tokens"}, ...}``.
Older bundles have neither; every figure here is then None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PHASES = ("prefill", "decode")


@dataclass(frozen=True)
class PhaseEnergy:
    phase: str
    energy_j: float | None  # over the whole measured window of the phase
    passes: int  # timed passes inside that window
    tokens: int | None  # tokens processed inside that window
    source: str | None  # e.g. nvml_counter, integrated_power, jetson_rails
    mean_power_w: float | None

    @property
    def energy_per_pass_j(self) -> float | None:
        if self.energy_j is None or self.passes <= 0:
            return None
        return self.energy_j / self.passes

    @property
    def energy_per_token_j(self) -> float | None:
        if self.energy_j is None or not self.tokens:
            return None
        return self.energy_j / self.tokens


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _count(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number > 0 else None


def phase_energy(point: dict[str, Any], phase: str) -> PhaseEnergy | None:
    """The energy window of ``phase`` ("prefill" or "decode"), or None when not measured."""
    window = (point.get("energy") or {}).get(phase)
    if not isinstance(window, dict):
        return None
    timing = (point.get("phases") or {}).get(phase) or {}
    length = _count(point.get("length_tokens"))
    if phase == "prefill":
        passes = (_count(window.get("passes")) or _count(timing.get("passes"))
                  or _count((point.get("prefill") or {}).get("repeats")) or 1)
        fallback_tokens = length * passes if length else None
    else:
        passes = _count(window.get("passes")) or _count(timing.get("passes")) or 1
        fallback_tokens = _count((point.get("decode") or {}).get("tokens"))
    tokens = _count(window.get("tokens")) or _count(timing.get("tokens")) or fallback_tokens
    return PhaseEnergy(phase=phase, energy_j=_number(window.get("energy_j")), passes=passes,
                       tokens=tokens, source=window.get("energy_source"),
                       mean_power_w=_number(window.get("mean_power_w")))


def energy_figures(point: dict[str, Any]) -> dict[str, Any]:
    """Flat energy figures of a point, with units in the names (None where not measured)."""
    result: dict[str, Any] = {}
    sources: list[str] = []
    for phase in PHASES:
        measured = phase_energy(point, phase)
        result[f"{phase}_energy_j"] = measured.energy_per_pass_j if measured else None
        result[f"{phase}_energy_per_token_j"] = measured.energy_per_token_j if measured else None
        result[f"{phase}_mean_power_w"] = measured.mean_power_w if measured else None
        if measured and measured.source and measured.source not in sources:
            sources.append(measured.source)
    result["energy_source"] = ", ".join(sources) or None
    return result
