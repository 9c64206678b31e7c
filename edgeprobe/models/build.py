"""Build a preset's model on a device: HF transformers from config, or mamba_ssm's own model."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from edgeprobe.models.adapters import ForwardAdapter, HFAdapter, MambaSSMAdapter
from edgeprobe.models.kernel_path import KernelPath, classify
from edgeprobe.suite.presets import IMPL_HF, IMPL_MAMBA_SSM, ModelPreset

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


class ImplementationUnavailable(RuntimeError):
    """The asked-for implementation cannot run here (e.g. mamba_ssm without CUDA)."""


@dataclass
class LoadedModel:
    preset: ModelPreset
    implementation: str
    adapter: ForwardAdapter
    device: torch.device
    dtype: torch.dtype
    params: int
    weight_bytes: int
    load_s: float
    weights: str  # "random" or the checkpoint folder
    attn_implementation: str | None

    @property
    def has_ssm(self) -> bool:
        return self.preset.family in ("ssm", "hybrid")

    @property
    def has_attention(self) -> bool:
        if self.preset.family == "transformer":
            return True
        if self.preset.family == "hybrid":
            return True
        # mamba_ssm models may carry attention layers (attn_layer_idx); HF Mamba ones do not.
        cfg = self.preset.mamba_ssm_config or {}
        return self.implementation == IMPL_MAMBA_SSM and bool(cfg.get("attn_layer_idx"))

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.preset.name,
            "family": self.preset.family,
            "implementation": self.implementation,
            "params": self.params,
            "weight_bytes": self.weight_bytes,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device),
            "load_s": self.load_s,
            "weights": self.weights,
            "attn_implementation": self.attn_implementation,
        }


def mamba_ssm_runnable(device: torch.device) -> str | None:
    """None when mamba_ssm's own model can run here, else why not."""
    if device.type != "cuda":
        return "mamba_ssm's model needs a CUDA GPU"
    try:
        from mamba_ssm.models.mixer_seq_simple import MambaLMHeadModel  # noqa: F401
    except Exception as exc:
        return f"mamba_ssm does not import: {type(exc).__name__}: {exc}"[:200]
    return None


def hf_config(preset: ModelPreset) -> Any:
    from transformers import AutoConfig

    if preset.model_dir:
        return AutoConfig.from_pretrained(preset.model_dir, local_files_only=True,
                                          trust_remote_code=preset.trust_remote_code)
    if preset.hf_model_type not in _known_model_types():
        import transformers

        raise ImplementationUnavailable(
            f"transformers {transformers.__version__} has no model type "
            f"{preset.hf_model_type!r} ({preset.name}): it needs a newer transformers")
    # deepcopy: some config classes write into the dicts they are given (Phi-3 rope settings).
    return AutoConfig.for_model(preset.hf_model_type, **copy.deepcopy(preset.hf_config))


def _known_model_types() -> frozenset[str]:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return frozenset(CONFIG_MAPPING_NAMES)


def count_params(module: torch.nn.Module) -> tuple[int, int]:
    """(parameters, bytes of parameters and buffers); shared (tied) tensors count once."""
    seen: set[int] = set()
    params = 0
    nbytes = 0
    for tensor in [*module.parameters(), *module.buffers()]:
        key = id(tensor)
        if key in seen:
            continue
        seen.add(key)
        nbytes += tensor.numel() * tensor.element_size()
        if isinstance(tensor, torch.nn.Parameter):
            params += tensor.numel()
    return params, nbytes


def _build_hf(preset: ModelPreset, device: torch.device, dtype: torch.dtype,
              weights: Path | None) -> torch.nn.Module:
    from transformers import AutoModelForCausalLM

    if weights is not None:
        module = AutoModelForCausalLM.from_pretrained(weights, dtype=dtype, local_files_only=True)
        return module.to(device)
    with torch.device(device):
        return AutoModelForCausalLM.from_config(hf_config(preset), dtype=dtype,
                                                trust_remote_code=preset.trust_remote_code)


def _build_mamba_ssm(preset: ModelPreset, device: torch.device, dtype: torch.dtype,
                     weights: Path | None) -> torch.nn.Module:
    why = mamba_ssm_runnable(device)
    if why:
        raise ImplementationUnavailable(why)
    from mamba_ssm.models.config_mamba import MambaConfig
    from mamba_ssm.models.mixer_seq_simple import MambaLMHeadModel

    if weights is not None:
        return MambaLMHeadModel.from_pretrained(str(weights), device=device, dtype=dtype)
    return MambaLMHeadModel(MambaConfig(**preset.mamba_ssm_config), device=device, dtype=dtype)


def build(preset: ModelPreset, implementation: str, device: torch.device, dtype: torch.dtype,
          seed: int = 0, weights: Path | None = None, max_new_tokens: int = 1024) -> LoadedModel:
    torch.manual_seed(seed)
    started = time.perf_counter()
    adapter: ForwardAdapter
    if implementation == IMPL_HF:
        module = _build_hf(preset, device, dtype, weights)
        adapter = HFAdapter(module)
        attn = getattr(module.config, "_attn_implementation", None)
    elif implementation == IMPL_MAMBA_SSM:
        if preset.mamba_ssm_config is None and weights is None:
            raise ImplementationUnavailable(f"{preset.name} has no mamba_ssm configuration")
        module = _build_mamba_ssm(preset, device, dtype, weights)
        adapter = MambaSSMAdapter(module, max_new_tokens=max_new_tokens)
        attn = None
    else:
        raise ImplementationUnavailable(f"unknown implementation {implementation!r}")
    module.eval()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    params, nbytes = count_params(module)
    return LoadedModel(
        preset=preset,
        implementation=implementation,
        adapter=adapter,
        device=device,
        dtype=dtype,
        params=params,
        weight_bytes=nbytes,
        load_s=time.perf_counter() - started,
        weights=str(weights) if weights else "random",
        attn_implementation=attn,
    )


def detect_kernel_path(model: LoadedModel, tokens: int = 64) -> KernelPath:
    """Profile a short prefill, a decode's prefill and two steps; see which kernels ran."""
    vocab = model.preset.vocab_size or 1000
    ids = torch.randint(0, vocab, (1, tokens), device=model.device)

    def run() -> None:
        with torch.inference_mode():
            model.adapter.prefill(ids, 1)  # the timed path
            logits, cache = model.adapter.begin_decode(ids)  # the decode's own prefill
            token = logits[:, -1:].argmax(-1)
            for _ in range(2):
                logits, cache = model.adapter.step(token, cache)
                token = logits[:, -1:].argmax(-1)

    run()  # first call compiles Triton kernels and warms caches outside the profile
    names = observed_names(run, model.device)
    return classify(names, has_ssm=model.has_ssm, has_attention=model.has_attention)


def profiled_events(run: Any, device: torch.device) -> Any:
    """The profiler's events (CPU ops, and CUDA kernels on a GPU) of one ``run()``, the
    device synchronised before the profile ends."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    return prof.events()


def observed_names(run: Any, device: torch.device) -> set[str]:
    """Names of every op and kernel seen while ``run()`` executes under torch.profiler."""
    return {event.name for event in profiled_events(run, device)}
