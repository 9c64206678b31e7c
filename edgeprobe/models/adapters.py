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
    prefill_path: str  # how timed prefills call the model
    decode_prefill_path: str  # how the prefill that starts a decode calls it

    def prefill(self, input_ids: torch.Tensor,
                logits_to_keep: int) -> tuple[torch.Tensor, Any | None]: ...

    def begin_decode(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, Any]: ...

    def step(self, token: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]: ...

    def state_bytes(self, length: int) -> int: ...


class HFAdapter:
    """HF causal LMs. Copes with the cache keyword's rename across transformers 5.x."""

    prefill_path = "hf-forward"  # model(input_ids, use_cache=True), as the study timed it
    decode_prefill_path = "hf-forward"

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module
        params = inspect.signature(module.forward).parameters
        self._cache_kw = next(
            (k for k in ("cache", "past_key_values", "cache_params") if k in params), "cache"
        )
        self._wants_cache_position = "cache_position" in params
        # Models with their own code may predate ``logits_to_keep`` (``num_logits_to_keep``)
        # or lack it: without it every position's logits are made, which the point records
        # (``logits_positions``).
        any_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        self._keep_kw = next((k for k in ("logits_to_keep", "num_logits_to_keep")
                              if k in params), "logits_to_keep" if any_keyword else None)
        self._position = 0

    def _keep(self, logits_to_keep: int) -> dict[str, Any]:
        return {self._keep_kw: logits_to_keep} if self._keep_kw else {}

    @staticmethod
    def _cache_of(output: Any) -> Any:
        for attr in ("cache", "past_key_values", "cache_params"):
            value = getattr(output, attr, None)
            if value is not None:
                return value
        return None

    def prefill(self, input_ids: torch.Tensor, logits_to_keep: int) -> tuple[torch.Tensor, Any]:
        length = input_ids.shape[1]
        kwargs: dict[str, Any] = {"use_cache": True, **self._keep(logits_to_keep)}
        if self._wants_cache_position:
            kwargs["cache_position"] = torch.arange(length, device=input_ids.device)
        output = self.module(input_ids=input_ids, **kwargs)
        self._position = length
        return output.logits, self._cache_of(output)

    def _step_position(self, device: torch.device) -> torch.Tensor:
        # Made on the device (a fill kernel): a tensor copied from the host would wait for
        # every queued kernel, a synchronisation per token that a plain loop does not pay.
        return torch.arange(self._position, self._position + 1, device=device)

    def begin_decode(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, Any]:
        return self.prefill(input_ids, 1)

    def step(self, token: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]:
        kwargs: dict[str, Any] = {"use_cache": True, **self._keep(1), self._cache_kw: cache}
        if self._wants_cache_position:
            kwargs["cache_position"] = self._step_position(token.device)
        output = self.module(input_ids=token, **kwargs)
        self._position += 1
        return output.logits, self._cache_of(output)

    def state_bytes(self, length: int) -> int:
        raise NotImplementedError("HF prefills return their cache: count that")


class MambaSSMAdapter:
    """state-spaces' ``MambaLMHeadModel``.

    Timed prefills call ``model(input_ids)`` as the study did: without ``InferenceParams``
    mamba_ssm takes its fused memory-efficient path. A decode needs the state, so its prefill
    passes ``InferenceParams``, which sends mamba_ssm down a path that also returns the final
    states (slower at short prompts).
    """

    prefill_path = "mamba_ssm-forward"
    decode_prefill_path = "mamba_ssm-inference-params"

    def __init__(self, module: torch.nn.Module, max_new_tokens: int = 1024) -> None:
        self.module = module
        self.max_new_tokens = max_new_tokens

    def prefill(self, input_ids: torch.Tensor, logits_to_keep: int) -> tuple[torch.Tensor, None]:
        return self.module(input_ids, num_last_tokens=logits_to_keep).logits, None

    def begin_decode(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, Any]:
        from mamba_ssm.utils.generation import InferenceParams

        length = input_ids.shape[1]
        params = InferenceParams(max_seqlen=length + self.max_new_tokens, max_batch_size=1)
        output = self.module(input_ids, inference_params=params, num_last_tokens=1)
        params.seqlen_offset += length
        return output.logits, params

    def step(self, token: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]:
        output = self.module(token, inference_params=cache, num_last_tokens=1)
        cache.seqlen_offset += 1
        return output.logits, cache

    def state_bytes(self, length: int) -> int:
        """Bytes of the state (and KV of any attention layers) a ``length``-token prompt leaves:
        what mamba_ssm allocates for it."""
        states = self.module.allocate_inference_cache(1, length)
        try:
            return tensor_bytes(states)
        finally:
            del states


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
