"""Where a run's wall time went (``edgeprobe show --timing``), from its footer's ``timing``.

A resumed bundle holds one timing per session that ended with a footer: the last footer's,
and each earlier one kept in the ``resumed`` event that cut it off. They are summed.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

from edgeprobe.bundle.reader import Bundle
from edgeprobe.units import format_duration

LABELS = {
    "worker_start": "starting workers (torch, device)",
    "model_build": "model build",
    "kernel_path_check": "kernel-path check",
    "memory_pass": "first passes (memory peaks)",
    "warmup": "warm-up passes",
    "timed_prefill": "timed prefill passes",
    "observe": "profiled passes (attention kernel)",
    "energy_window": "energy windows",
    "decode": "decode (eager: cold + warm)",
    "decode_graph": "decode (CUDA graph)",
    "profiling": "profiling passes (kernels)",
    "max_context_trials": "max-context trials",
    "cooldown": "cool-down waits",
    "idle_baseline": "idle-power baseline",
    "power_switch": "power-mode switches",
    "release": "freeing memory between passes",
    "telemetry": "energy and telemetry bookkeeping",
    "bundle_write": "bundle writes",
    "worker_other": "worker messages and prompts",
    "failed_requests": "requests that crashed or hung",
    "other": "idle and other",
}
TIMED_WORK = ("timed_prefill", "decode", "decode_graph")


@dataclass
class Session:
    status: str
    timing: dict[str, Any] | None  # None: it ended without a footer


@dataclass
class RunTimes:
    sessions: list[Session] = field(default_factory=list)

    @property
    def wall_s(self) -> float:
        return sum(float(s.timing.get("wall_s") or 0) for s in self.sessions if s.timing)

    @property
    def phases_s(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for session in self.sessions:
            for name, seconds in ((session.timing or {}).get("phases_s") or {}).items():
                if isinstance(seconds, (int, float)):
                    totals[str(name)] = totals.get(str(name), 0.0) + float(seconds)
        return dict(sorted(totals.items(), key=lambda kv: -kv[1]))

    @property
    def counts(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for session in self.sessions:
            for name, count in ((session.timing or {}).get("counts") or {}).items():
                if isinstance(count, int):
                    totals[str(name)] = totals.get(str(name), 0) + count
        return totals


def run_times(bundle: Bundle) -> RunTimes:
    times = RunTimes()
    for event in bundle.resumed_events:
        footer = (event.get("data") or {}).get("previous_footer")
        if isinstance(footer, dict):
            times.sessions.append(Session(str(footer.get("status")), _timing(footer)))
        else:
            times.sessions.append(Session("ended without a footer", None))
    footer = bundle.footer
    times.sessions.append(Session(str(footer.get("status")), _timing(footer)) if footer
                          else Session("running or cut off", None))
    return times


def _timing(footer: dict[str, Any]) -> dict[str, Any] | None:
    timing = footer.get("timing")
    return timing if isinstance(timing, dict) else None


def timing_lines(bundle: Bundle) -> list[str]:
    """The phases, longest first, with their share of the wall time; fits 80 columns."""
    times = run_times(bundle)
    if not any(s.timing for s in times.sessions):
        return ["no timing in this bundle (written before runs recorded it, or its run has "
                "not ended)"]
    wall = times.wall_s
    lines = [f"Where the time went: {format_duration(wall)} of wall time (monotonic clock)",
             f"  {'phase':<38}{'time':>12}{'share':>9}"]
    for name, seconds in times.phases_s.items():
        share = seconds / wall * 100 if wall else 0.0
        lines.append(f"  {LABELS.get(name, name)[:38]:<38}{format_duration(seconds):>12}"
                     f"{share:>8.1f}%")
    timed = sum(times.phases_s.get(name, 0.0) for name in TIMED_WORK)
    lines.append(f"  timed work (timed prefill passes and decode): "
                 f"{timed / wall * 100 if wall else 0:.1f}% of the wall time")
    counts = times.counts
    if counts:
        lines += _wrapped(", ".join(f"{count} {name.replace('_', ' ')}"
                                    for name, count in sorted(counts.items())))
    if len(times.sessions) > 1:
        parts = [f"{index}: {format_duration(s.timing.get('wall_s')) if s.timing else '?'} "
                 f"({s.status})" for index, s in enumerate(times.sessions, start=1)]
        lines += _wrapped(f"{len(times.sessions)} sessions: " + "; ".join(parts))
    return lines


def _wrapped(text: str) -> list[str]:
    return textwrap.wrap(text, 80, initial_indent="  ", subsequent_indent="    ")
