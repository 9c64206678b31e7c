"""The plain loops a user would write to time a model, as the reference for ``fidelity``.

Nothing here comes from edgeprobe: only torch and the model's own library, called the way
their documentation shows: ``model(input_ids)`` with a synchronised monotonic clock around
it, and a greedy loop that feeds each token back with the cache the model returned. If
edgeprobe's adapters, timers or loops went wrong, these would not go wrong with them.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _is_mamba_ssm(module: torch.nn.Module) -> bool:
    return type(module).__module__.startswith("mamba_ssm")


def _device(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


def prefill_s(module: torch.nn.Module, input_ids: torch.Tensor, last_only: bool) -> float:
    """Seconds of one forward over the prompt: every position's logits, or the last one's."""
    device = _device(module)
    _sync(device)
    started = time.perf_counter()
    with torch.inference_mode():
        if _is_mamba_ssm(module):
            module(input_ids, num_last_tokens=1 if last_only else 0)
        elif last_only:
            module(input_ids=input_ids, logits_to_keep=1)
        else:
            module(input_ids=input_ids)
    _sync(device)
    return time.perf_counter() - started


def _hf_steps(module: torch.nn.Module, input_ids: torch.Tensor) -> Callable[[], None]:
    """Prefill, then a function that decodes one greedy token with the returned cache."""
    # The cache goes by the name the model's forward takes: ``cache`` (transformers 5.x),
    # ``past_key_values`` (attention models before it), ``cache_params`` (Mamba models, which
    # also want the step's position).
    params = inspect.signature(module.forward).parameters
    keyword = next(k for k in ("cache", "past_key_values", "cache_params") if k in params)
    with_position = keyword == "cache_params" and "cache_position" in params
    output = module(input_ids=input_ids, use_cache=True, logits_to_keep=1)
    state: dict[str, Any] = {"cache": getattr(output, keyword), "position": input_ids.shape[1],
                             "token": output.logits[:, -1:].argmax(-1)}

    def step() -> None:
        kwargs = {keyword: state["cache"]}
        if with_position:
            kwargs["cache_position"] = torch.arange(state["position"], state["position"] + 1,
                                                    device=input_ids.device)
        out = module(input_ids=state["token"], use_cache=True, **kwargs)
        state["cache"] = getattr(out, keyword)
        state["token"] = out.logits[:, -1:].argmax(-1)
        state["position"] += 1

    return step


def _mamba_ssm_steps(module: torch.nn.Module, input_ids: torch.Tensor,
                     max_new_tokens: int) -> Callable[[], None]:
    from mamba_ssm.utils.generation import InferenceParams

    length = input_ids.shape[1]
    params = InferenceParams(max_seqlen=length + max_new_tokens, max_batch_size=1)
    output = module(input_ids, inference_params=params, num_last_tokens=1)
    params.seqlen_offset += length
    state = {"token": output.logits[:, -1:].argmax(-1)}

    def step() -> None:
        out = module(state["token"], inference_params=params, num_last_tokens=1)
        params.seqlen_offset += 1
        state["token"] = out.logits[:, -1:].argmax(-1)

    return step


def decode_tpot_s(module: torch.nn.Module, input_ids: torch.Tensor, new_tokens: int,
                  warmup_steps: int = 4) -> float:
    """Seconds per token of a greedy decode after the prompt: ``warmup_steps`` untimed steps,
    then ``new_tokens`` steps between two synchronisations."""
    device = _device(module)
    with torch.inference_mode():
        if _is_mamba_ssm(module):
            step = _mamba_ssm_steps(module, input_ids, warmup_steps + new_tokens + 1)
        else:
            step = _hf_steps(module, input_ids)
        for _ in range(warmup_steps):
            step()
        _sync(device)
        started = time.perf_counter()
        for _ in range(new_tokens):
            step()
        _sync(device)
    return (time.perf_counter() - started) / new_tokens
