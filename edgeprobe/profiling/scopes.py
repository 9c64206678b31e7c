"""Profiler ranges around the modules whose kernels no name reveals.

The logits GEMM looks like any other GEMM and the embedding lookup like any other index
kernel; a reference RMSNorm is a handful of elementwise ops. Forward hooks open an
``edgeprobe::<category>`` range around the input embedding, the output projection and every
normalization module, and the profiler nests the ops (and so the kernels they launch) inside
it. The hooks exist only while the profiling pass runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.autograd.profiler import record_function

from edgeprobe.profiling.categories import (
    EMBEDDING,
    LOGITS,
    NORM_MODULE_PATTERN,
    NORMALIZATION,
    scope_range_name,
)


def _method_module(module: torch.nn.Module, method: str) -> torch.nn.Module | None:
    getter = getattr(module, method, None)
    if not callable(getter):
        return None
    try:
        found = getter()
    except (NotImplementedError, AttributeError):
        return None
    return found if isinstance(found, torch.nn.Module) else None


def scope_targets(module: torch.nn.Module) -> list[tuple[torch.nn.Module, str]]:
    """(submodule, category) pairs: input embedding, output projection, normalizations.

    HF models answer ``get_input_embeddings`` / ``get_output_embeddings``; mamba_ssm's
    ``MambaLMHeadModel`` has ``lm_head`` and an ``nn.Embedding`` in its backbone.
    """
    embedding = _method_module(module, "get_input_embeddings") or next(
        (m for m in module.modules() if isinstance(m, torch.nn.Embedding)), None)
    head = _method_module(module, "get_output_embeddings") or getattr(module, "lm_head", None)
    targets: list[tuple[torch.nn.Module, str]] = []
    if isinstance(embedding, torch.nn.Module):
        targets.append((embedding, EMBEDDING))
    if isinstance(head, torch.nn.Module) and head is not embedding:
        targets.append((head, LOGITS))
    taken = {id(m) for m, _ in targets}
    for sub in module.modules():
        if id(sub) not in taken and NORM_MODULE_PATTERN.search(type(sub).__name__):
            targets.append((sub, NORMALIZATION))
    return targets


@contextmanager
def module_scopes(module: torch.nn.Module) -> Iterator[list[tuple[torch.nn.Module, str]]]:
    """Wrap each scope target's forward in a profiler range while the block runs."""
    targets = scope_targets(module)
    open_ranges: list[record_function] = []
    handles: list[Any] = []

    def enter_hook(name: str) -> Any:
        def enter(_module: torch.nn.Module, _args: Any) -> None:
            scope = record_function(name)
            scope.__enter__()
            open_ranges.append(scope)
        return enter

    def leave(_module: torch.nn.Module, _args: Any, _output: Any) -> None:
        if open_ranges:
            open_ranges.pop().__exit__(None, None, None)

    try:
        for target, category in targets:
            handles.append(target.register_forward_pre_hook(enter_hook(scope_range_name(category))))
            handles.append(target.register_forward_hook(leave, always_call=True))
        yield targets
    finally:
        for handle in handles:
            handle.remove()
        while open_ranges:
            open_ranges.pop().__exit__(None, None, None)
