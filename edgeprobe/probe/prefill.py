"""Prefill of one prompt length for every prefill variant, timed round by round.

For each variant: one pass on a freshly emptied allocator gives the memory peaks, then
warm-up until the timings settle. One untimed round over every variant follows, so that the
allocator holds blocks for all of them, then the timed rounds alternate the variants
(published, lean, published, lean, ...), so a drift in clocks or temperature touches every
variant alike. A profiled pass per variant observes the attention kernel and how busy the
device was; where energy is measured, a contiguous window of passes per variant follows.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from edgeprobe.models.adapters import tensor_bytes
from edgeprobe.models.build import LoadedModel
from edgeprobe.probe import clock
from edgeprobe.probe.memory import MemoryTracker, condense_oom, is_oom, release
from edgeprobe.probe.observe import (
    Observation,
    attention_label,
    busy_figures,
    observe,
    worth_observing,
)
from edgeprobe.probe.timing import Timed, spread, synchronize, timed, timer_name
from edgeprobe.probe.warmup import WarmupPolicy, WarmupResult, warm_up

LOGITS_TO_KEEP = {"published": 0, "lean": 1}
MAX_WINDOW_PASSES = 200


@dataclass(frozen=True)
class PointSpec:
    length_tokens: int
    variants: tuple[str, ...] = ("lean",)
    warmup: int = 1  # at least this many warm-up passes per variant; 0: none
    repeats: int = 3  # timed passes per variant, one per round
    decode_tokens: int = 0  # 0: no decode for this length
    decode_variant: str | None = None  # the variant whose success the decode needs
    decode_modes: tuple[str, ...] = ("eager",)
    seed: int = 0
    # Per variant, a contiguous window of passes lasting at least this long, for energy
    # (>= 1 s of power samples; the study integrated over 50+ passes). 0: no window.
    min_window_s: float = 0.0
    observe: bool = True  # one profiled, untimed pass per variant
    warmup_max_passes: int = 10

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> PointSpec:
        known = {f.name for f in fields(cls)}
        values = {k: tuple(v) if isinstance(v, list) else v
                  for k, v in message.items() if k in known}
        return cls(**values)

    @property
    def warmup_policy(self) -> WarmupPolicy:
        return WarmupPolicy(min_passes=self.warmup,
                            max_passes=max(self.warmup, self.warmup_max_passes))


def prompt(model: LoadedModel, length: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed + length)
    vocab = model.preset.vocab_size or 1000
    ids = torch.randint(0, vocab, (1, length), generator=generator)
    return ids.to(model.device)


def prefill_once(model: LoadedModel, ids: torch.Tensor, variant: str) -> None:
    """One prefill of ``ids`` with the variant's logits; the outputs are dropped."""
    with torch.inference_mode():
        model.adapter.prefill(ids, LOGITS_TO_KEEP[variant])


def time_prefill(model: LoadedModel, ids: torch.Tensor, variant: str) -> Timed:
    """One timed prefill of ``ids`` with the variant's logits, as every timed pass runs."""
    return timed(lambda: prefill_once(model, ids, variant), model.device)


@dataclass
class VariantRun:
    variant: str
    memory: dict[str, Any] = field(default_factory=dict)
    warmup: WarmupResult = field(default_factory=WarmupResult)
    samples_s: list[float] = field(default_factory=list)
    host_samples_s: list[float] = field(default_factory=list)
    logits: dict[str, Any] = field(default_factory=dict)
    cache_bytes: int = 0
    observation: Observation | None = None
    observe_error: str | None = None
    window: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None


class _Prefill:
    """The passes of one variant at one length."""

    def __init__(self, model: LoadedModel, ids: torch.Tensor, spec: PointSpec,
                 variant: str) -> None:
        self.model = model
        self.ids = ids
        self.spec = spec
        self.run = VariantRun(variant)
        self.keep = LOGITS_TO_KEEP[variant]
        self.stage = clock.MEMORY_PASS  # where a failure happens, for the record

    def _stage(self, name: str) -> contextlib.AbstractContextManager[None]:
        self.stage = name
        return clock.phase(name)

    def once(self) -> None:
        prefill_once(self.model, self.ids, self.run.variant)

    def timed_s(self) -> float:
        return time_prefill(self.model, self.ids, self.run.variant).seconds

    def prepare(self) -> None:
        """First pass on an emptied allocator (memory peaks, logits and cache facts), then
        warm-up until the timings settle."""
        release(self.model.device)
        tracker = MemoryTracker(self.model.device)
        start = tracker.reset()
        try:
            with self._stage(clock.MEMORY_PASS), torch.inference_mode():
                first = timed(lambda: self.model.adapter.prefill(self.ids, self.keep),
                              self.model.device)
            logits, cache = first.result
        except Exception as exc:
            # The peak before the failure tells the max-context search how far off it was
            # (and, for a device fault, how much memory was left).
            exc.edgeprobe_memory = {"at_start": start, **_peak(tracker)}  # type: ignore[attr-defined]
            raise
        self.run.memory = {"at_start": start, **tracker.peak(),
                           "weight_bytes": self.model.weight_bytes}
        self.run.logits = {"logits_positions": int(logits.shape[1]),
                           "logits_bytes": logits.numel() * logits.element_size(),
                           "logits_dtype": str(logits.dtype).removeprefix("torch.")}
        self.run.cache_bytes = (tensor_bytes(cache) if cache is not None
                                else self.model.adapter.state_bytes(self.ids.shape[1]))
        del logits, cache, first.result
        if self.spec.warmup == 0:  # no warm-up asked for: the first pass is a timed one
            self.run.samples_s.append(first.seconds)
            self.run.host_samples_s.append(first.host_s)
        with self._stage(clock.WARMUP):
            self.run.warmup = warm_up(self.timed_s, self.spec.warmup_policy)

    def untimed_pass(self) -> None:
        with self._stage(clock.WARMUP):
            self.once()

    def timed_pass(self) -> None:
        with self._stage(clock.TIMED_PREFILL):
            result = time_prefill(self.model, self.ids, self.run.variant)
        self.run.samples_s.append(result.seconds)
        self.run.host_samples_s.append(result.host_s)

    def observe(self) -> None:
        """The profiled pass. It only adds facts: running out of memory under the profiler
        (whose buffers come on top of the pass) costs the facts, not the point."""
        try:
            with self._stage(clock.OBSERVE):
                self.run.observation = observe(self.once, self.model.device)
        except Exception as exc:
            if not is_oom(exc):
                raise
            self.run.observe_error = "out of memory under the profiler"
        if self.run.observe_error:
            release(self.model.device)

    def window(self) -> None:
        """Contiguous passes for at least ``min_window_s``: the energy window."""
        with self._stage(clock.ENERGY_WINDOW):
            self._window()

    def _window(self) -> None:
        synchronize(self.model.device)
        start = time.monotonic()
        passes = 0
        while passes < 1 or (time.monotonic() - start < self.spec.min_window_s
                             and passes < MAX_WINDOW_PASSES):
            self.once()
            passes += 1
        synchronize(self.model.device)
        self.run.window = {"start_monotonic_s": start, "end_monotonic_s": time.monotonic(),
                           "passes": passes, "tokens": self.ids.shape[1] * passes}


def _survives(call: _Prefill, step: Callable[[], None]) -> bool:
    """Run ``step``; an out-of-memory fails this variant only (recorded in its run, with the
    stage it happened in: only one in the first pass, on an emptied allocator, says that the
    prompt does not fit). Other errors propagate, naming the variant they happened in."""
    try:
        step()
        return True
    except Exception as exc:
        if not is_oom(exc):
            exc.edgeprobe_variant = call.run.variant  # type: ignore[attr-defined]
            raise
        message = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:500]
        call.run.failure = {"status": "oom", "error": condense_oom(message),
                            "failed_in": call.stage}
        memory = getattr(exc, "edgeprobe_memory", None)
        if memory:
            call.run.failure["memory"] = memory
    release(call.model.device)  # outside the except block: the traceback's tensors are gone
    return False


def measure_prefills(model: LoadedModel, spec: PointSpec,
                     ids: torch.Tensor) -> dict[str, VariantRun]:
    calls = [_Prefill(model, ids, spec, variant) for variant in spec.variants]
    alive = [call for call in calls if _survives(call, call.prepare)]
    if len(alive) > 1 and spec.warmup > 0:
        # One untimed round: the allocator caches blocks for every variant before the timing.
        alive = [call for call in alive if _survives(call, call.untimed_pass)]
    while any(len(call.run.samples_s) < spec.repeats for call in alive):
        alive = [call for call in alive
                 if len(call.run.samples_s) >= spec.repeats
                 or _survives(call, call.timed_pass)]
    if spec.observe and worth_observing(model.device, model.has_attention):
        alive = [call for call in alive if _survives(call, call.observe)]
    if spec.min_window_s > 0:
        alive = [call for call in alive if _survives(call, call.window)]
    return {call.run.variant: call.run for call in calls}


def prefill_record(run: VariantRun, model: LoadedModel, spec: PointSpec) -> dict[str, Any]:
    """A variant's figures as the ``prefill``, ``memory`` and ``cache_bytes`` of its point."""
    if run.failure is not None:
        return dict(run.failure)
    stats = spread(run.samples_s)
    host = spread(run.host_samples_s)
    observation = run.observation
    prefill = {
        **stats.as_dict("ttft"),
        "ttft_stdev_s": _stdev(run.samples_s),
        "ttft_samples_s": run.samples_s,
        "host_ttft_s": host.median_s,
        "prefill_tokens_per_s": spec.length_tokens / stats.median_s,
        "warmup": spec.warmup,
        **run.warmup.as_dict(),
        "repeats": len(run.samples_s),
        "interleaved": list(spec.variants),
        "timer": timer_name(model.device),
        "path": model.adapter.prefill_path,
        "attention_backend": attention_label(observation, model.has_attention),
        **busy_figures(observation, stats.median_s),
        **({"observe_error": run.observe_error} if run.observe_error else {}),
        **run.logits,
    }
    record: dict[str, Any] = {"status": "ok", "prefill": prefill, "memory": run.memory,
                              "cache_bytes": run.cache_bytes}
    if run.window is not None:
        record["phases"] = {"prefill": run.window}
    return record


def _peak(tracker: MemoryTracker) -> dict[str, int]:
    """The tracker's peaks, or none where the device can no longer say (after a fault)."""
    try:
        return tracker.peak()
    except Exception:
        return {}


def _stdev(samples: list[float]) -> float | None:
    return statistics.stdev(samples) if len(samples) >= 2 else None

