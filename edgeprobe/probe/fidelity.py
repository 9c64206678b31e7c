"""edgeprobe's measurement path beside the plain loops of ``bare``, in one process.

For one model and prompt length, round by round and in alternating order (plain loop first
in even rounds, edgeprobe first in odd ones), so that drift in clocks, temperature or host
load touches both alike:

- TTFT with every position's logits and with the last one's: the plain ``model(input_ids)``
  against edgeprobe's timed prefill (its adapter and its timer);
- TPOT cold and warm: the plain greedy loop against edgeprobe's eager decode. A cold pass
  needs KV lengths the process has not seen, so every decode of every round starts from a
  prompt of its own length (``length + k * stride``), each side's cold pass followed by a
  warm pass over the same lengths. The sides take the lower of each round's two lengths in
  turn.

Only samples come back; the medians, spreads and ratios are computed on the analysis side.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from edgeprobe.models.build import LoadedModel
from edgeprobe.probe import bare
from edgeprobe.probe.decode import WARMUP_STEPS, eager_passes
from edgeprobe.probe.memory import release
from edgeprobe.probe.prefill import LOGITS_TO_KEEP, prompt, time_prefill
from edgeprobe.probe.warmup import WarmupPolicy, warm_up

METRICS = ("ttft_published", "ttft_lean", "tpot_cold", "tpot_warm")
SIDES = ("bare", "edgeprobe")


@dataclass(frozen=True)
class FidelitySpec:
    length_tokens: int
    rounds: int = 5
    decode_rounds: int = 10
    decode_tokens: int = 32
    warmup: int = 2
    seed: int = 0

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> FidelitySpec:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in message.items() if k in known})

    @property
    def decode_stride_tokens(self) -> int:
        """Prompts of successive cold decodes differ by this much: their KV lengths never
        overlap."""
        return self.decode_tokens + WARMUP_STEPS + 8


def _order(round_index: int) -> tuple[str, ...]:
    return SIDES if round_index % 2 == 0 else SIDES[::-1]


def _prefill_rounds(model: LoadedModel, spec: FidelitySpec,
                    samples: dict[str, dict[str, list[float]]]) -> None:
    module = model.adapter.module
    ids = prompt(model, spec.length_tokens, spec.seed)
    policy = WarmupPolicy(min_passes=spec.warmup)
    for variant in LOGITS_TO_KEEP:
        last_only = variant == "lean"
        warm_up(lambda v=variant: time_prefill(model, ids, v).seconds, policy)
        warm_up(lambda lo=last_only: bare.prefill_s(module, ids, lo), policy)
    for index in range(spec.rounds):
        for variant in LOGITS_TO_KEEP:
            for side in _order(index):
                seconds = (bare.prefill_s(module, ids, variant == "lean") if side == "bare"
                           else time_prefill(model, ids, variant).seconds)
                samples[f"ttft_{variant}"][side].append(seconds)


def _decode_rounds(model: LoadedModel, spec: FidelitySpec,
                   samples: dict[str, dict[str, list[float]]]) -> list[int]:
    module = model.adapter.module
    prompts: list[int] = []
    for index in range(spec.decode_rounds):
        for side in _order(index):
            length = spec.length_tokens + len(prompts) * spec.decode_stride_tokens
            prompts.append(length)
            ids = prompt(model, length, spec.seed)
            if side == "bare":
                cold = bare.decode_tpot_s(module, ids, spec.decode_tokens, WARMUP_STEPS)
                warm = bare.decode_tpot_s(module, ids, spec.decode_tokens, WARMUP_STEPS)
            else:
                result = eager_passes(model, ids, spec.decode_tokens, observe_step=False)
                cold, warm = result.cold.tpot_s, result.warm.tpot_s
            samples["tpot_cold"][side].append(cold)
            samples["tpot_warm"][side].append(warm)
            del ids
            release(model.device)
    return prompts


def run_fidelity(model: LoadedModel, spec: FidelitySpec) -> dict[str, Any]:
    samples: dict[str, dict[str, list[float]]] = {m: {s: [] for s in SIDES} for m in METRICS}
    _prefill_rounds(model, spec, samples)
    release(model.device)
    prompts = _decode_rounds(model, spec, samples) if spec.decode_tokens > 0 else []
    return {"samples_s": samples, "decode_prompt_tokens": prompts,
            "prefill_path": model.adapter.prefill_path,
            "decode_prefill_path": model.adapter.decode_prefill_path}
