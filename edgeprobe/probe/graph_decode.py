"""Decode with the step captured as a CUDA graph and replayed.

An eager decode step launches hundreds of small kernels from Python; on a fast GPU (and on a
Jetson's ARM cores even more) the host, not the model, sets its pace. Deployments capture
the step once and replay it. Each implementation is captured by its own library's means, as
a user of it would:

- mamba_ssm: its graph-cached decoding (``update_graph_cache``, what ``generate(cg=True)``
  uses), driven one step at a time, each step timed;
- HF transformers: ``generate(cache_implementation="static")``, which compiles the decode
  step (torch.compile, CUDA graphs). Steps are not exposed one by one, so the pass time is
  the difference of two generations from the same prompt: ``tokens + 1`` new tokens minus
  one, which leaves out the prefill and keeps generate's own per-token work.

Both run a cold and a warm pass from the same prompt, as the eager decode does.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from edgeprobe.models.build import LoadedModel
from edgeprobe.probe.decode import (
    WARMUP_STEPS,
    DecodePass,
    decode_phase,
    greedy,
    pass_figures,
    timed_steps,
)
from edgeprobe.probe.memory import condense_oom, is_fatal_device_error, is_oom, release
from edgeprobe.probe.timing import timed, timer_name
from edgeprobe.suite.presets import IMPL_MAMBA_SSM

METHOD_MAMBA_SSM = "mamba_ssm update_graph_cache (CUDA graph per step)"
METHOD_HF = "transformers generate(cache_implementation='static'), compiled step"


class GraphDecodeUnsupported(RuntimeError):
    """This model's decode step cannot be captured here; the message says why."""


def _mamba_ssm_passes(model: LoadedModel, ids: torch.Tensor, tokens: int) -> list[DecodePass]:
    from mamba_ssm.utils.generation import update_graph_cache

    module = model.adapter.module
    length = ids.shape[1]
    max_length = length + WARMUP_STEPS + tokens + 1
    cache = update_graph_cache(module, None, 1, length, max_length)
    params = cache.inference_params
    passes = []
    with torch.inference_mode():
        for _ in range(2):
            params.reset(max_length, 1)
            logits = module(ids, inference_params=params, num_last_tokens=1).logits
            params.seqlen_offset += length
            token = greedy(logits)

            def step() -> None:
                nonlocal token
                position = torch.full((1, 1), params.seqlen_offset, dtype=torch.long,
                                      device=ids.device)
                step_logits = cache.run(token, position, params.seqlen_offset)
                params.seqlen_offset += 1
                token = greedy(step_logits)

            for _ in range(WARMUP_STEPS):
                step()
            passes.append(timed_steps(step, tokens, model.device))
    return passes  # the graphs and their memory pool go with ``cache``


def _hf_static_passes(model: LoadedModel, ids: torch.Tensor, tokens: int) -> list[DecodePass]:
    module = model.adapter.module
    mask = torch.ones_like(ids)

    def generate(new_tokens: int) -> None:
        module.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new_tokens,
                        min_new_tokens=new_tokens, do_sample=False,
                        cache_implementation="static", pad_token_id=0)

    # The longest generation first: later ones reuse its cache size, so nothing recompiles.
    generate(tokens + 1)
    if getattr(module, "_compiled_call", None) is None:
        raise GraphDecodeUnsupported("transformers does not compile this model's decode step "
                                     "(its cache cannot be static)")
    passes = []
    for _ in range(2):
        start = time.monotonic()
        long = timed(lambda: generate(tokens + 1), model.device)
        short = timed(lambda: generate(1), model.device)
        passes.append(DecodePass(long.seconds - short.seconds, tokens, None,
                                 long.host_s - short.host_s, start, time.monotonic()))
    return passes


def graph_record(model: LoadedModel, ids: torch.Tensor, tokens: int,
                 ttft_s: float | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The ``decode_graph`` figures of a point and the warm pass's window; a model that
    cannot be captured, or runs out of memory, is recorded with ``status`` and why."""
    base: dict[str, Any] = {"mode": "graph", "tokens": tokens}
    if model.device.type != "cuda":
        return {**base, "status": "unsupported", "error": "CUDA graphs need a CUDA GPU"}, None
    mamba = model.implementation == IMPL_MAMBA_SSM
    base["method"] = METHOD_MAMBA_SSM if mamba else METHOD_HF
    started = time.perf_counter()
    try:
        passes = (_mamba_ssm_passes if mamba else _hf_static_passes)(model, ids, tokens)
    except Exception as exc:
        if is_fatal_device_error(exc):
            exc.edgeprobe_phase = "decode_graph"  # type: ignore[attr-defined]
            raise
        status = "oom" if is_oom(exc) else "unsupported"
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        error = condense_oom(text) if status == "oom" else text
    else:
        cold, warm = passes
        record = {**base, "status": "ok", "wall_s": time.perf_counter() - started,
                  **pass_figures(cold, warm, WARMUP_STEPS if mamba else 0, ids.shape[1],
                                 ttft_s),
                  "timer": timer_name(model.device)}
        return record, decode_phase(warm)
    release(model.device)
    return {**base, "status": status, "error": error}, None
