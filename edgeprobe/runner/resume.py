"""Continuing a run that was cut off, into the same bundle (``edgeprobe run --resume``).

What earlier sessions finished is kept and not measured again; the unit is one prompt length
of one model (every prefill variant, measured together in one worker request, and the decode
after it), one max-context search, one profiling pass. A length cut off mid-way, with only
some of its variants written, is measured again: its records are listed as superseded in the
``resumed`` event, and readers leave them out. A resumed run must measure what the bundle
measured: suite, settings that change the figures, device and software are compared first,
and the first difference is refused in one line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeprobe.bundle import BundleWriter, read_bundle, schema
from edgeprobe.bundle.reader import Bundle
from edgeprobe.errors import UsageError
from edgeprobe.probe.plan import ModelPlan

# What must be the same for figures of two sessions to stand side by side, in the order the
# refusal names them: (path into the header, name in the message).
DEVICE_FACTS = (
    (("device", "kind"), "device kind"),
    (("device", "name"), "device"),
    (("software", "torch"), "torch version"),
    (("software", "cuda"), "CUDA version"),
    (("software", "transformers"), "transformers version"),
    (("software", "mamba_ssm"), "mamba_ssm version"),
    (("software", "causal_conv1d"), "causal_conv1d version"),
    (("settings", "dtype"), "dtype"),
)
SETTINGS_FACTS = (
    (("settings", "memory_budget_bytes"), "memory budget"),
    (("plan_models",), "models"),
    (("plan_lengths",), "lengths"),
    (("settings", "variants"), "prefill variants"),
    (("settings", "implementation"), "implementation"),
    (("settings", "decode_modes"), "decode modes"),
    (("settings", "attention_backend"), "attention pin"),
    (("settings", "warmup"), "warmup"),
    (("settings", "repeats"), "repeats"),
    (("settings", "decode_tokens"), "decode tokens"),
    (("settings", "min_prefill_window_s"), "energy window"),
    (("settings", "seed"), "seed"),
    (("settings", "find_max_context"), "max-context search"),
    (("settings", "search_resolution_tokens"), "search resolution"),
    (("settings", "search_limit_tokens"), "search limit"),
    (("settings", "profile"), "profiling"),
    (("settings", "profile_schedule"), "profile schedule"),
    (("settings", "weights"), "weights"),
    (("settings", "power_modes"), "power modes"),
    (("suite", "sha256"), "suite"),
)
POWER_FACT = (("power", "mode"), "power mode")
_PLURAL = frozenset({"models", "lengths", "prefill variants", "decode modes", "power modes"})
DEVICE_AND_SETTINGS_FACTS = DEVICE_FACTS + SETTINGS_FACTS


def _value(header: dict[str, Any], path: tuple[str, ...]) -> Any:
    if path == ("plan_models",):
        return [f"{p.get('model')}/{p.get('implementation')}" for p in header.get("plan") or []]
    if path == ("plan_lengths",):
        return {f"{p.get('model')}/{p.get('implementation')}": p.get("lengths")
                for p in header.get("plan") or []}
    value: Any = header
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _shown(value: Any) -> str:
    if isinstance(value, dict) and len(value) > 3:
        return f"{len(value)} entries"
    text = "none" if value is None else str(value)
    return text if len(text) <= 48 else text[:45] + "..."


def first_difference(bundle_header: dict[str, Any], now_header: dict[str, Any],
                     facts: tuple[tuple[tuple[str, ...], str], ...]) -> str | None:
    """``"dtype differs (bundle float16, now float32)"`` for the first fact that differs."""
    for path, name in facts:
        before, now = _value(bundle_header, path), _value(now_header, path)
        if before != now:
            if isinstance(before, dict) and isinstance(now, dict):
                key = next(k for k in [*before, *now] if before.get(k) != now.get(k))
                return f"{name} differ for {key} (bundle {_shown(before.get(key))}, " \
                       f"now {_shown(now.get(key))})"
            verb = "differ" if name in _PLURAL else "differs"
            return f"{name} {verb} (bundle {_shown(before)}, now {_shown(now)})"
    return None


def refuse_difference(state: ResumeState, now_header: dict[str, Any],
                      facts: tuple[tuple[tuple[str, ...], str], ...]) -> None:
    """One line naming what differs between the bundle and this run, if anything does."""
    why = first_difference(state.header, now_header, facts)
    if why is not None:
        raise UsageError(f"cannot resume {state.path}: {why}")


@dataclass
class PriorWork:
    """What earlier sessions finished for one model and implementation."""

    units: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # length -> points
    searches: dict[str, dict[str, Any]] = field(default_factory=dict)  # variant -> max_context
    search_trials: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    profiled: set[int] = field(default_factory=set)  # lengths with a kernels record


def _mode_key(record: dict[str, Any], by_mode: bool) -> str | None:
    return record.get("power_mode") if by_mode else None


@dataclass
class ResumeState:
    """A bundle to continue: what it holds and what a resumed run keeps of it."""

    path: Path
    bundle: Bundle
    by_mode: bool  # a power-mode sweep: the same unit exists once per mode
    superseded: list[int] = field(default_factory=list)  # seqs of points measured again
    _prior: dict[tuple[str | None, str], PriorWork] = field(default_factory=dict)

    @property
    def header(self) -> dict[str, Any]:
        return self.bundle.header

    def prior(self, plan: ModelPlan, power_mode: str | None) -> PriorWork:
        return self._prior.get((power_mode if self.by_mode else None, plan.key), PriorWork())

    @property
    def last_seq(self) -> int:
        return max((int(p.get("seq") or 0) for p in self.bundle.all_points), default=0)

    def kept_points(self) -> list[dict[str, Any]]:
        gone = set(self.superseded) | self.bundle.superseded_seqs
        return [p for p in self.bundle.all_points if p.get("seq") not in gone]

    def statuses(self) -> Counter[str]:
        return Counter(str(p.get("status")) for p in self.kept_points())

    def kernel_paths(self) -> dict[str, str]:
        return {f"{m.get('model')}/{m.get('implementation')}": m["kernel_path"]["summary"]
                for m in self.bundle.models
                if m.get("status") == "ok" and isinstance(m.get("kernel_path"), dict)}

    def done_points(self) -> int:
        return sum(len(unit) for prior in self._prior.values() for unit in prior.units.values())

    def study(self) -> None:
        """Sort the bundle's records into finished units, searches and profiles."""
        variants = {f"{p.get('model')}/{p.get('implementation')}": set(p.get("variants") or [])
                    for p in self.header.get("plan") or []}
        groups: dict[tuple[str | None, str, int], list[dict[str, Any]]] = {}
        for point in self.kept_points():
            key = f"{point.get('model')}/{point.get('implementation')}"
            mode = _mode_key(point, self.by_mode)
            if point.get("search"):
                prior = self._prior.setdefault((mode, key), PriorWork())
                prior.search_trials.setdefault(str(point.get("variant")), []).append(point)
                continue
            groups.setdefault((mode, key, point["length_tokens"]), []).append(point)
        for (mode, key, length), points in groups.items():
            if variants.get(key, set()) <= {p.get("variant") for p in points}:
                self._prior.setdefault((mode, key), PriorWork()).units[length] = points
            else:
                self.superseded += [int(p["seq"]) for p in points if p.get("seq") is not None]
        for record in self.bundle.max_context:
            prior = self._prior.setdefault((_mode_key(record, self.by_mode),
                                            f"{record.get('model')}/"
                                            f"{record.get('implementation')}"), PriorWork())
            prior.searches[str(record.get("variant"))] = record
            prior.search_trials.pop(str(record.get("variant")), None)
        for record in self.bundle.of_type(schema.KERNELS):
            key = (_mode_key(record, self.by_mode),
                   f"{record.get('model')}/{record.get('implementation')}")
            self._prior.setdefault(key, PriorWork()).profiled.add(int(record["length_tokens"]))


def load_resume(path: Path) -> ResumeState:
    """The bundle to continue, refused in one line when it cannot be continued."""
    bundle = read_bundle(path)
    if bundle.damaged:
        raise UsageError(f"cannot resume {path}: {bundle.damage}")
    if not bundle.verified:
        raise UsageError(f"cannot resume {path}: it was written before checksums, so where "
                         "its last complete record ends cannot be checked")
    status = (bundle.footer or {}).get("status")
    if status == "completed":
        raise UsageError(f"cannot resume {path}: it is complete (nothing left to run)")
    settings = bundle.header.get("settings") or {}
    state = ResumeState(path, bundle, by_mode=bool(settings.get("power_modes")))
    state.study()
    return state


def continue_bundle(state: ResumeState, header: dict[str, Any],
                    on_write: Callable[[float], None] | None = None) -> BundleWriter:
    """The bundle reopened for appending, with the ``resumed`` event that says so."""
    writer, tail = BundleWriter.reopen(state.path, on_write)
    data = resumed_data(state, header, tail.cut_bytes, tail.footer)
    writer.event(schema.EVENT_RESUMED, f"resumed (session {data['session']}): "
                 f"{data['kept_points']} points kept, {len(data['superseded_seqs'])} cut off "
                 "mid-way measured again", level="info", **data)
    return writer


def resumed_data(state: ResumeState, now_header: dict[str, Any], cut_bytes: int,
                 previous_footer: dict[str, Any] | None) -> dict[str, Any]:
    """The ``resumed`` event's data: what this session found and what it runs with."""
    return {"session": state.bundle.sessions + 1,
            "previous_status": (previous_footer or {}).get("status", "no footer"),
            "previous_footer": previous_footer, "cut_bytes": cut_bytes,
            "superseded_seqs": sorted(state.superseded),
            "kept_points": len(state.kept_points()),
            **{key: now_header.get(key) for key in ("command", "run_argv", "host", "device",
                                                    "software", "settings", "power",
                                                    "idle_baseline")}}
