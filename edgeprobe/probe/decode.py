"""Greedy decoding with the model's cache: a cold pass and a warm pass over the same lengths.

A decode step at a KV length the process has not seen can cost several times a step at a
length it has (cuDNN attention builds an execution plan per new sequence length on sm_90),
so one pass measures the process as much as the model. Each mode therefore runs two passes
from the same prefill state: ``cold`` (lengths new to the process) and ``warm`` (the same
lengths again). TPOT is the warm pass's; the cold one is kept beside it.

Modes: ``eager`` (one forward per token, as a plain loop would) and ``graph`` (the step
captured as a CUDA graph and replayed; see ``graph_decode``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from edgeprobe.models.adapters import tensor_bytes
from edgeprobe.models.build import LoadedModel
from edgeprobe.probe.memory import MemoryTracker, condense_oom, is_oom, release
from edgeprobe.probe.observe import (
    Observation,
    attention_label,
    busy_figures,
    observe,
    worth_observing,
)
from edgeprobe.probe.timing import spread, timed, timer_name

WARMUP_STEPS = 4


@dataclass
class DecodePass:
    """``tokens`` timed steps: their total, each step's seconds where the steps were timed one
    by one, and the pass's host wall time and window."""

    total_s: float
    tokens: int
    step_s: list[float] | None
    host_s: float
    start_monotonic_s: float
    end_monotonic_s: float

    @property
    def tpot_s(self) -> float:
        return self.total_s / self.tokens


def greedy(logits: torch.Tensor) -> torch.Tensor:
    return logits[:, -1:].argmax(-1)


def timed_steps(step: Callable[[], None], tokens: int, device: torch.device) -> DecodePass:
    """``tokens`` steps between two synchronisations, timed as a whole by the device clock (as
    a plain loop would be). Each step's host time is read too, for the spread: reading the
    host clock costs nothing, while a device event per step is a driver call per token."""
    marks = [0.0] * (tokens + 1)

    def loop() -> None:
        marks[0] = time.perf_counter()
        for index in range(1, tokens + 1):
            step()
            marks[index] = time.perf_counter()

    start = time.monotonic()
    result = timed(loop, device)
    step_s = [b - a for a, b in itertools.pairwise(marks)]
    return DecodePass(result.seconds, tokens, step_s, result.host_s, start, time.monotonic())


@dataclass
class EagerDecode:
    cold: DecodePass
    warm: DecodePass
    observation: Observation | None
    memory: dict[str, int]
    cache_bytes_after: int


def eager_passes(model: LoadedModel, ids: torch.Tensor, tokens: int,
                 observe_step: bool = True) -> EagerDecode:
    """Cold then warm pass, each from a fresh prefill of ``ids``: ``WARMUP_STEPS`` untimed
    steps, then ``tokens`` timed steps; after the warm pass one more step runs under the
    profiler (attention kernel, busy share), so no timed step follows a profiled one."""
    adapter = model.adapter
    passes: list[DecodePass] = []
    observation = None
    memory: dict[str, int] = {}
    cache_bytes = 0
    for label in ("cold", "warm"):
        with torch.inference_mode():
            logits, cache = adapter.begin_decode(ids)
            token = greedy(logits)
            del logits

            def step() -> None:
                nonlocal token, cache
                step_logits, cache = adapter.step(token, cache)
                token = greedy(step_logits)

            for _ in range(WARMUP_STEPS):
                step()
            tracker = MemoryTracker(model.device)
            tracker.reset()
            passes.append(timed_steps(step, tokens, model.device))
            memory = tracker.peak()
            if label == "warm" and observe_step:
                observation = observe(step, model.device)
            cache_bytes = tensor_bytes(cache)
            del cache, token
    return EagerDecode(passes[0], passes[1], observation, memory, cache_bytes)


def pass_figures(cold: DecodePass, warm: DecodePass, warmup_tokens: int, length: int,
                 ttft_s: float | None) -> dict[str, Any]:
    """TPOT (warm), TPOT cold, the spread of the warm pass's steps and the throughput."""
    figures: dict[str, Any] = {
        "tokens": warm.tokens,
        "warmup_tokens": warmup_tokens,
        "tpot_s": warm.tpot_s,
        "tpot_warm_s": warm.tpot_s,
        "tpot_cold_s": cold.tpot_s,
        "tpot_iqr_s": None,
        "decode_s": warm.total_s,
        "decode_cold_s": cold.total_s,
        "host_decode_s": warm.host_s,
        "decode_tokens_per_s": 1.0 / warm.tpot_s,
    }
    if warm.step_s:
        steps = spread(warm.step_s)
        figures.update(tpot_iqr_s=steps.iqr_s, step_median_s=steps.median_s,
                       step_q1_s=steps.q1_s, step_q3_s=steps.q3_s)
    if ttft_s is not None:
        # As the study defines it: (input + output tokens) / (prefill + decode time).
        figures["throughput_tokens_per_s"] = (length + warm.tokens) / (ttft_s + warm.total_s)
    return figures


def decode_phase(warm: DecodePass) -> dict[str, Any]:
    """The warm pass as an energy window."""
    return {"start_monotonic_s": warm.start_monotonic_s, "end_monotonic_s": warm.end_monotonic_s,
            "passes": 1, "tokens": warm.tokens}


def eager_record(model: LoadedModel, ids: torch.Tensor, tokens: int,
                 ttft_s: float | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The ``decode`` figures of a point and its energy phase; an out-of-memory is recorded
    in the figures (``status: oom``), not raised: the prefill figures stand."""
    try:
        result = eager_passes(model, ids, tokens,
                              observe_step=worth_observing(model.device, model.has_attention))
    except Exception as exc:
        if not is_oom(exc):
            exc.edgeprobe_phase = "decode"  # type: ignore[attr-defined]
            raise
        failure = {"mode": "eager", "status": "oom", "tokens": tokens,
                   "error": condense_oom(str(exc).splitlines()[0][:500])}
    else:
        record = {
            "mode": "eager", "status": "ok",
            **pass_figures(result.cold, result.warm, WARMUP_STEPS, ids.shape[1], ttft_s),
            "cache_bytes_after": result.cache_bytes_after,
            "timer": timer_name(model.device),
            "prefill_path": model.adapter.decode_prefill_path,
            "attention_backend": attention_label(result.observation, model.has_attention),
            **busy_figures(result.observation, result.warm.tpot_s),
            **{f"decode_{k}": v for k, v in result.memory.items()},
        }
        return record, decode_phase(result.warm)
    release(model.device)
    return failure, None

