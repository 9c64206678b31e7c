"""Versions of everything that changes results: torch, CUDA, transformers, fused kernels."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

import torch

from edgeprobe import __version__
from edgeprobe.telemetry.nvml import pci_bus_id, query_gpu

_DISTRIBUTIONS = ("transformers", "mamba-ssm", "causal-conv1d", "triton", "flash-attn",
                  "nvidia-ml-py", "numpy")


def software_versions() -> dict[str, Any]:
    versions: dict[str, Any] = {
        "edgeprobe": __version__,
        "python": platform.python_version(),
        "torch": str(torch.__version__),  # a str subclass: it would import torch to unpickle
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
    }
    for dist in _DISTRIBUTIONS:
        try:
            versions[dist.replace("-", "_")] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist.replace("-", "_")] = None
    return versions


def cuda_device_info(device: torch.device) -> dict[str, Any]:
    props = torch.cuda.get_device_properties(device)
    info: dict[str, Any] = {
        "kind": "cuda",
        "name": props.name,
        "total_memory_bytes": props.total_memory,
        "compute_capability": f"{props.major}.{props.minor}",
        "multiprocessors": props.multi_processor_count,
        "index": device.index or 0,
    }
    if hasattr(props, "pci_bus_id"):  # so telemetry reads this GPU, whatever the ordinals
        info["pci_bus_id"] = pci_bus_id(props.pci_domain_id, props.pci_bus_id,
                                        props.pci_device_id)
    info["driver"] = query_gpu(lambda nvml, gpu: nvml.nvmlSystemGetDriverVersion())
    return info
