"""The measurements of one probe point: prefill (TTFT), decode (TPOT), memory, cache size."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch

from edgeprobe.models.adapters import tensor_bytes
from edgeprobe.models.build import LoadedModel
from edgeprobe.probe.memory import MemoryTracker
from edgeprobe.probe.timing import spread, synchronize, timed, timer_name

LOGITS_TO_KEEP = {"published": 0, "lean": 1}
MAX_WINDOW_PASSES = 200


@dataclass(frozen=True)
class PointSpec:
    length_tokens: int
    variant: str  # published | lean
    warmup: int = 1
    repeats: int = 3
    decode_tokens: int = 0  # 0: no decode for this point
    seed: int = 0
    # Keep repeating the timed prefill until the window lasts this long (energy needs >= 1 s
    # of power samples; the study integrated over 50+ passes). 0: exactly ``repeats`` passes.
    min_window_s: float = 0.0


def prompt(model: LoadedModel, length: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed + length)
    vocab = model.preset.vocab_size or 1000
    ids = torch.randint(0, vocab, (1, length), generator=generator)
    return ids.to(model.device)


def measure_prefill(model: LoadedModel, spec: PointSpec, ids: torch.Tensor) -> dict[str, Any]:
    keep = LOGITS_TO_KEEP[spec.variant]
    tracker = MemoryTracker(model.device)

    def once() -> tuple[torch.Tensor, Any]:
        with torch.inference_mode():
            return model.adapter.prefill(ids, keep)

    start = tracker.reset()
    try:
        for _ in range(spec.warmup):
            logits, cache = once()
            del logits, cache
        samples: list[float] = []
        logits_info: dict[str, Any] = {}
        cache_bytes = 0
        window_start = time.monotonic()
        while len(samples) < spec.repeats or (
                time.monotonic() - window_start < spec.min_window_s
                and len(samples) < MAX_WINDOW_PASSES):
            seconds, (logits, cache) = timed(once, model.device)
            samples.append(seconds)
            if not logits_info:
                logits_info = {
                    "logits_positions": int(logits.shape[1]),
                    "logits_bytes": logits.numel() * logits.element_size(),
                    "logits_dtype": str(logits.dtype).removeprefix("torch."),
                }
                cache_bytes = tensor_bytes(cache)
            del logits, cache
        synchronize(model.device)
        window_end = time.monotonic()
    except Exception as exc:
        # The peak before the failure tells the max-context search how far off it was.
        exc.edgeprobe_memory = {"at_start": start, **tracker.peak()}  # type: ignore[attr-defined]
        raise
    stats = spread(samples)
    return {
        "prefill": {
            "ttft_s": stats["median_s"],
            "ttft_min_s": stats["min_s"],
            "ttft_max_s": stats["max_s"],
            "ttft_stdev_s": stats.get("stdev_s"),
            "ttft_samples_s": samples,
            "prefill_tokens_per_s": spec.length_tokens / stats["median_s"],
            "warmup": spec.warmup,
            "repeats": len(samples),
            "timer": timer_name(model.device),
            **logits_info,
        },
        "memory": {"at_start": start, **tracker.peak(), "weight_bytes": model.weight_bytes},
        "cache_bytes": cache_bytes,
        "phases": {"prefill": {
            "start_monotonic_s": window_start, "end_monotonic_s": window_end,
            "passes": len(samples), "tokens": spec.length_tokens * len(samples)}},
    }


def measure_decode(model: LoadedModel, spec: PointSpec, ids: torch.Tensor,
                   ttft_s: float) -> dict[str, Any]:
    """Greedy decoding with the cache: ``decode_tokens`` steps after a short warm-up."""
    tracker = MemoryTracker(model.device)
    warm_steps = min(4, spec.decode_tokens)
    with torch.inference_mode():
        logits, cache = model.adapter.prefill(ids, 1)
        token = logits[:, -1:].argmax(-1)
        for _ in range(warm_steps):
            logits, cache = model.adapter.step(token, cache)
            token = logits[:, -1:].argmax(-1)
        tracker.reset()

        def loop() -> Any:
            nonlocal token, cache
            for _ in range(spec.decode_tokens):
                step_logits, cache = model.adapter.step(token, cache)
                token = step_logits[:, -1:].argmax(-1)
            return cache

        decode_start = time.monotonic()
        seconds, cache = timed(loop, model.device)
        decode_end = time.monotonic()
        cache_bytes = tensor_bytes(cache)
    del cache, logits, token
    tpot = seconds / spec.decode_tokens
    total_tokens = spec.length_tokens + spec.decode_tokens
    return {
        "decode": {
            "tokens": spec.decode_tokens,
            "warmup_tokens": warm_steps,
            "tpot_s": tpot,
            "decode_s": seconds,
            "decode_tokens_per_s": 1.0 / tpot,
            # As the study defines it: (input + output tokens) / (prefill + decode time).
            "throughput_tokens_per_s": total_tokens / (ttft_s + seconds),
            "cache_bytes_after": cache_bytes,
            "timer": timer_name(model.device),
            **{f"decode_{k}": v for k, v in tracker.peak().items()},
        },
        "decode_phase": {"start_monotonic_s": decode_start, "end_monotonic_s": decode_end,
                         "passes": 1, "tokens": spec.decode_tokens},
    }
