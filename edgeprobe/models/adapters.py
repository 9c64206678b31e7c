"""One calling convention over HF transformers models and mamba_ssm's own model.

``prefill(ids, logits_to_keep)`` runs the prompt and returns (logits, cache);
``step(token, cache)`` decodes one token with that cache. ``logits_to_keep=0`` keeps logits
for every position (as the study measured), 1 keeps only the last position's.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol

import torch


class ForwardAdapter(Protocol):
    module: torch.nn.Module

    def prefill(self, input_ids: torch.Tensor, logits_to_keep: int) -> tuple[torch.Tensor, Any]: ...

    def step(self, token: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]: ...


class HFAdapter:
    """HF causal LMs. Copes with the cache keyword's rename across transformers 5.x."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module
        params = inspect.signature(module.forward).parameters
        self._cache_kw = next(
            (k for k in ("cache", "past_key_values", "cache_params") if k in params), "cache"
        )
        self._wants_cache_position = "cache_position" in params
        self._position = 0

    @staticmethod
    def _cache_of(output: Any) -> Any:
        for attr in ("cache", "past_key_values", "cache_params"):
            value = getattr(output, attr, None)
            if value is not None:
                return value
        return None

    def prefill(self, input_ids: torch.Tensor, logits_to_keep: int) -> tuple[torch.Tensor, Any]:
        length = input_ids.shape[1]
        kwargs: dict[str, Any] = {"use_cache": True, "logits_to_keep": logits_to_keep}
        if self._wants_cache_position:
            kwargs["cache_position"] = torch.arange(length, device=input_ids.device)
        output = self.module(input_ids=input_ids, **kwargs)
        self._position = length
        return output.logits, self._cache_of(output)

    def step(self, token: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]:
        kwargs: dict[str, Any] = {"use_cache": True, "logits_to_keep": 1, self._cache_kw: cache}
        if self._wants_cache_position:
            kwargs["cache_position"] = torch.tensor([self._position], device=token.device)
        output = self.module(input_ids=token, **kwargs)
        self._position += 1
        return output.logits, self._cache_of(output)


class MambaSSMAdapter:
    """state-spaces' ``MambaLMHeadModel`` with its ``InferenceParams`` state cache."""

    def __init__(self, module: torch.nn.Module, max_new_tokens: int = 1024) -> None:
        self.module = module
        self.max_new_tokens = max_new_tokens

    def prefill(self, input_ids: torch.Tensor, logits_to_keep: int) -> tuple[torch.Tensor, Any]:
        from mamba_ssm.utils.generation import InferenceParams

        length = input_ids.shape[1]
        params = InferenceParams(max_seqlen=length + self.max_new_tokens, max_batch_size=1)
        output = self.module(input_ids, inference_params=params, num_last_tokens=logits_to_keep)
        params.seqlen_offset += length
        return output.logits, params

    def step(self, token: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]:
        output = self.module(token, inference_params=cache, num_last_tokens=1)
        cache.seqlen_offset += 1
        return output.logits, cache


def tensor_bytes(obj: Any) -> int:
    """Bytes held by the distinct tensors reachable from a cache object (KV or SSM state)."""
    seen: set[int] = set()
    stack = [obj]
    visited: set[int] = set()
    total = 0
    while stack:
        item = stack.pop()
        if item is None or id(item) in visited:
            continue
        visited.add(id(item))
        if isinstance(item, torch.Tensor):
            if item.numel() and item.untyped_storage().data_ptr() not in seen:
                seen.add(item.untyped_storage().data_ptr())
                total += item.untyped_storage().nbytes()
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set)):
            stack.extend(item)
        elif hasattr(item, "__dict__") and not isinstance(item, (torch.nn.Module, type)):
            stack.extend(vars(item).values())
    return total
